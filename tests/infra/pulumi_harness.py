"""Run the Pulumi program under Pulumi's own mocks and record what it asked for.

`deploy_stack(raw)` sets the stack's config exactly as `pulumi config` would
(JSON strings under `bullmq-platform:spec` / `bullmq-platform:infra`), runs the
same code path as `infra/__main__.py` (config loader, then `program.deploy`)
inside `@pulumi.runtime.test`, and returns every registered resource with its
inputs, plus each export's value and whether it is a secret.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import rpc

from infra.config import load_stack_config
from infra.program import deploy
from platform_spec.stack import PROJECT, read_stack_config

# Fake but PEM-shaped outputs, so a leak of "secret material" is recognisable.
# A stand-in PEM, not a key. The armor is assembled so that no committed file
# carries a literal private-key header (a repository scan flags those).
PEM_KIND = "EC " + "PRIVATE KEY"
FAKE_KEY = f"-----BEGIN {PEM_KIND}-----\nMOCKKEY{{name}}\n-----END {PEM_KIND}-----\n"
FAKE_CERT = "-----BEGIN CERTIFICATE-----\nMOCKCERT{name}\n-----END CERTIFICATE-----\n"
FAKE_CSR = "-----BEGIN CERTIFICATE REQUEST-----\nMOCKCSR{name}\n-----END CERTIFICATE REQUEST-----\n"


SECRET_SIG_KEY = rpc._special_sig_key
SECRET_SIG = rpc._special_secret_sig


def unwrap(value: Any, path: str, secrets: set[str]) -> Any:
    """`value` with Pulumi's secret envelopes removed; each secret's path added to `secrets`."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            secrets.add(path)
            return unwrap(value["value"], path, secrets)
        return {k: unwrap(v, f"{path}.{k}" if path else k, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    return value


@dataclass
class Registered:
    """One resource the program registered; `secrets` holds the input paths sent as secrets."""

    type: str
    name: str
    raw_inputs: dict[str, Any]
    provider: str | None
    inputs: dict[str, Any] = field(init=False)
    secrets: set[str] = field(init=False)

    def __post_init__(self) -> None:
        self.secrets = set()
        self.inputs = unwrap(self.raw_inputs, "", self.secrets)


@dataclass
class Recorder(pulumi.runtime.Mocks):
    """Mocks that answer like the real providers do (ids, generated values) and record."""

    resources: list[Registered] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(Registered(args.typ, args.name, args.inputs, args.provider))
        state = dict(self.resources[-1].inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = f"mockpw{args.name.replace('-', '')}"
        elif args.typ == "tls:index/privateKey:PrivateKey":
            state["private_key_pem"] = FAKE_KEY.format(name=args.name)
        elif args.typ in (
            "tls:index/selfSignedCert:SelfSignedCert",
            "tls:index/locallySignedCert:LocallySignedCert",
        ):
            state["cert_pem"] = FAKE_CERT.format(name=args.name)
        elif args.typ == "tls:index/certRequest:CertRequest":
            state["cert_request_pem"] = FAKE_CSR.format(name=args.name)
        elif args.typ == "kubernetes:helm.sh/v4:Chart":
            state["resources"] = []
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        return {}, []

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str, name: str | None = None) -> Registered:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        assert len(found) == 1, (typ, name, [(r.type, r.name) for r in self.resources])
        return found[0]


@dataclass
class PreviewRecorder(Recorder):
    """Answers as a fresh stack's preview does: computed outputs (a generated password,
    a certificate's PEM) are not known yet, only the inputs echo back."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(Registered(args.typ, args.name, args.inputs, args.provider))
        state = dict(self.resources[-1].inputs)
        if args.typ == "kubernetes:helm.sh/v4:Chart":
            state["resources"] = []
        return "", state


def unknowns(value: Any, path: str = "") -> list[str]:
    """Paths inside `value` that are unknown at preview (pulumi's `Unknown` placeholders)."""
    if isinstance(value, dict):
        return [hit for k, v in value.items() for hit in unknowns(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [hit for i, v in enumerate(value) for hit in unknowns(v, f"{path}[{i}]")]
    return [path or "(value)"] if isinstance(value, Unknown) else []


@dataclass
class Deployment:
    """What one program run produced."""

    resources: Recorder
    exports: dict[str, Any]
    secret_exports: set[str]

    @property
    def chart(self) -> Registered:
        """The platform chart (the local one, not KEDA's)."""
        charts = [
            r
            for r in self.resources.of_type("kubernetes:helm.sh/v4:Chart")
            if r.inputs["chart"] != "keda"
        ]
        assert len(charts) == 1, charts
        return charts[0]


def stack_raw(stack: str) -> dict[str, Any]:
    """A stack file's `spec` and `infra` objects (a deep copy to modify)."""
    raw = read_stack_config(stack)
    return copy.deepcopy({k: v for k, v in raw.items() if k in ("spec", "infra")})


def set_config(raw: dict[str, Any]) -> None:
    """Set the config as `pulumi config set --path` would leave it: JSON per top key."""
    pulumi.runtime.set_all_config(
        {f"{PROJECT}:{key}": json.dumps(value) for key, value in raw.items()}
    )


def deploy_stack(raw: dict[str, Any], stack: str = "dev", *, preview: bool = False) -> Deployment:
    """Run config loading + deploy under mocks; return resources and resolved exports.

    With `preview`, as `pulumi preview` of a fresh stack: computed outputs are unknown.
    """
    recorder = PreviewRecorder() if preview else Recorder()
    pulumi.runtime.set_mocks(recorder, project=PROJECT, stack=stack, preview=preview)
    set_config(raw)
    exports: dict[str, Any] = {}
    secrets: set[str] = set()

    async def resolve(outputs: dict[str, Any]) -> None:
        for key, value in outputs.items():
            out = pulumi.Output.from_input(value)
            exports[key] = await out.future()
            if await out.is_secret():
                secrets.add(key)

    # Read through pulumi.Config as the program does; a bad config raises here,
    # before any resource is registered (as at preview).
    config = load_stack_config()

    @pulumi.runtime.test
    def run() -> Any:
        return resolve(deploy(config))

    run()
    return Deployment(recorder, exports, secrets)


def run_under_mocks(body: Any, stack: str = "dev") -> Recorder:
    """Run `body()` (which may return an awaitable) under fresh mocks; return the recorder."""
    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, project=PROJECT, stack=stack, preview=False)

    @pulumi.runtime.test
    def run() -> Any:
        return body()

    run()
    return recorder


SECRET_MARKERS = ("PRIVATE KEY", "mockpw", "BEGIN CERTIFICATE")


def secret_material(value: Any, path: str = "") -> list[str]:
    """Paths inside `value` whose strings look like a generated password, key or certificate."""
    if isinstance(value, dict):
        return [hit for k, v in value.items() for hit in secret_material(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [hit for i, v in enumerate(value) for hit in secret_material(v, f"{path}[{i}]")]
    if isinstance(value, str) and any(marker in value for marker in SECRET_MARKERS):
        return [path or "(value)"]
    return []
