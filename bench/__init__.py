"""Throughput bench: the fast engine, the stock Python bullmq Worker and Node BullMQ, side by side.

Run `python -m bench --help`. See docs/throughput.md for the method and the figures.
"""
