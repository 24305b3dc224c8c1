"""Queue handler module `acme_handlers.invoices` (name it in the spec's `queues[].handler`).

One job, `render-invoice`: totals the lines of an invoice. It shows the whole
contract of a handler module: a `registry`, a pydantic payload per job name, and
an `async def` that returns what the job's return value should be.
"""

from __future__ import annotations

import asyncio

from pydantic import Field

from workers.registry import JobContext, Payload, Registry

registry = Registry()


class InvoiceLine(Payload):
    description: str = Field(min_length=1, max_length=200)
    cents: int = Field(ge=0)
    quantity: int = Field(1, ge=1)


class RenderInvoice(Payload):
    invoice_id: str = Field(min_length=1, max_length=64)
    lines: list[InvoiceLine] = Field(min_length=1, max_length=500)
    # Stands in for the awaited I/O of a real renderer (the drain test keeps a job busy with it).
    render_seconds: float = Field(0, ge=0, le=10)


@registry.job("render-invoice", RenderInvoice)
async def render_invoice(payload: RenderInvoice, ctx: JobContext) -> dict[str, object]:
    await asyncio.sleep(payload.render_seconds)
    total = sum(line.cents * line.quantity for line in payload.lines)
    return {"invoiceId": payload.invoice_id, "totalCents": total, "renderedBy": ctx.queue.name}
