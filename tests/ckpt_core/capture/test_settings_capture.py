"""The dynamo and aot_autograd settings reach torch: real compiles of small snippets."""

from __future__ import annotations

import pytest

from ckpt_core import Settings, SettingsError, analyze_source
from ckpt_core.cli.common import parse_dynamo_config

pytestmark = pytest.mark.torch_compile

LOGGING = '''
import logging
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

log = logging.getLogger("snippet")


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 8)
        self.b = nn.Linear(8, 8)

    def forward(self, x):
        h = torch.relu(self.a(x))
        log.warning("between the layers")
        return self.b(h)


model = M()
example_inputs = (torch.randn(4, 8),)
'''

IN_PLACE = '''
import torch
from torch import nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 8)

    def forward(self, x):
        h = self.a(x)
        h.mul_(2.0)
        return torch.tanh(h)


model = M()
example_inputs = (torch.randn(4, 8),)
'''


def test_ignore_logging_functions_removes_the_graph_break() -> None:
    plain = analyze_source(LOGGING)
    assert len(plain.regions) == 2 and len(plain.graph_breaks) == 1
    settings = Settings(dynamo_config={"ignore_logging_functions": ["logging.Logger.warning"]})
    ignored = analyze_source(LOGGING, settings)
    assert len(ignored.regions) == 1 and ignored.graph_breaks == ()
    assert ignored.settings["dynamo_config"] == {
        "ignore_logging_functions": ["logging.Logger.warning"]}


def test_an_unimportable_function_is_a_settings_error() -> None:
    settings = Settings(dynamo_config={"ignore_logging_functions": ["nosuchmodule.log"]})
    with pytest.raises(SettingsError, match=r"dynamo_config.ignore_logging_functions.*nosuch"):
        analyze_source(LOGGING, settings)


def test_disable_functionalization_keeps_the_mutation_in_the_graph() -> None:
    functional = analyze_source(IN_PLACE, Settings(decompositions="none"))
    raw = analyze_source(IN_PLACE, Settings(disable_functionalization=True))
    assert raw.settings["disable_functionalization"] is True
    assert raw.settings["decompositions"] == "none"

    def targets(a: object) -> set[str]:
        return {n.target for n in a.regions[0].graphs["forward"].nodes}  # type: ignore[attr-defined]

    assert "aten.mul_.Tensor" in targets(raw)
    assert "aten.mul_.Tensor" not in targets(functional)


def test_settings_refuse_options_outside_the_allowlist() -> None:
    with pytest.raises(SettingsError, match=r"dynamo_config.suppress_errors: not an allowed"):
        Settings(dynamo_config={"suppress_errors": True})
    with pytest.raises(SettingsError, match=r"dynamo_config.recompile_limit: expected"):
        Settings(dynamo_config={"recompile_limit": "8"})
    with pytest.raises(SettingsError, match=r"dynamo_config.ignore_logging_functions"):
        Settings(dynamo_config={"ignore_logging_functions": ["not a name"]})
    with pytest.raises(SettingsError, match=r"settings.dynamo_config: expected an object"):
        Settings(dynamo_config=["x"])  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match=r"settings.cost_profile"):
        Settings(cost_profile="tpu")  # type: ignore[arg-type]


def test_cli_dynamo_config_pairs() -> None:
    assert parse_dynamo_config([
        "skip_fwd_side_effects_in_bwd_under_checkpoint=true", "recompile_limit=4",
        "ignore_logging_functions=logging.Logger.info",
    ]) == {"skip_fwd_side_effects_in_bwd_under_checkpoint": True, "recompile_limit": 4,
           "ignore_logging_functions": ["logging.Logger.info"]}
    with pytest.raises(SettingsError, match="KEY=VALUE"):
        parse_dynamo_config(["nope"])
    pairs = parse_dynamo_config(["ignore_logging_functions=logging.Logger.info"])
    s = Settings(dynamo_config=pairs)
    assert Settings.from_dict(s.to_dict()) == s
