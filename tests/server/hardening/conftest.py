"""Fixtures of the hardening tests: the API fixtures (a fake backend, real documents)."""

from tests.server.api.conftest import client, make_client, mlp_doc

__all__ = ["client", "make_client", "mlp_doc"]
