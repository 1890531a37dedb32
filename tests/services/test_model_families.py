"""Every seed family, proven: Llama 3, Phi-3, Gemma 2 and 3, Mistral, Qwen2, OLMo 2, TinyLlama, SmolLM.

Each family is a tiny random-weight GGUF written by tests/ggufs.py with the family's real
architecture, chat template, special tokens and context length. Each one loads in llama.cpp
through Hearth's own runtime (the model child of services/llm.py), renders its template with the
system message where the model will read it, stops at its own end-of-turn token, and reports its
trained context length in `hearth models list`.

How "stops at its own end-of-turn token" is proven: the weights make greedy decoding write ANSWER
and then the family's end-of-turn token (<|eot_id|>, <|end|>, <end_of_turn>, <|im_end|>, </s>,
<|endoftext|>), wherever the prompt ends. The runtime stops only when llama.cpp calls the
sampled token an end of generation (`llama_vocab_is_eog`, from the GGUF's vocabulary) or when a
stop string appears in the text; a control token detokenizes to no text, so only the first can
fire. Had the runtime not recognised the token, the model would go on writing it until
max_tokens (stop_reason "length"): the control test below shows exactly that, with the same
Phi-3 model whose <|end|> is renamed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from desktop.core.chat import GenerationParams
from desktop.core.errors import ModelFileError
from desktop.core.jobs import CancelToken, drive
from desktop.core.types import ChatMessage, Completion, RuntimePlan
from desktop.services import adapters, chat_template, models
from desktop.services.llm import LlamaRuntime
from tests.ggufs import ANSWER, BY_NAME, FAMILIES, SMOLLM2, Family, write_family_gguf, write_lora_gguf

NAMES = [f.name for f in FAMILIES]
SYSTEM = "Answer from the sources."
EXTRA = " Cite the page of every sentence you use, and say so when the sources do not answer."
CONVERSATION = (
    ChatMessage("system", SYSTEM),
    ChatMessage("user", "What is GGUF?"),
    ChatMessage("assistant", "A file format."),
    ChatMessage("user", "Who reads it?"),
)
# What each family's own template makes of CONVERSATION, as Hearth renders it. Gemma 2 and
# Mistral v0.2 raise on a system message and Phi-3-mini's first template drops it: Hearth folds
# it into the first user turn. Gemma 3 folds it itself, the others have a system turn.
EXPECTED = {
    "llama3": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nAnswer from the sources."
    "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is GGUF?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\nA file format.<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nWho reads it?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n",
    "phi3": "<s><|user|>\nAnswer from the sources.\n\nWhat is GGUF?<|end|>\n<|assistant|>\nA file format."
    "<|end|>\n<|user|>\nWho reads it?<|end|>\n<|assistant|>\n",
    "gemma2": "<bos><start_of_turn>user\nAnswer from the sources.\n\nWhat is GGUF?<end_of_turn>\n"
    "<start_of_turn>model\nA file format.<end_of_turn>\n<start_of_turn>user\nWho reads it?<end_of_turn>\n"
    "<start_of_turn>model\n",
    "mistral": "<s>[INST] Answer from the sources.\n\nWhat is GGUF? [/INST]A file format.</s>"
    "[INST] Who reads it? [/INST]",
    "qwen2": "<|im_start|>system\nAnswer from the sources.<|im_end|>\n<|im_start|>user\nWhat is GGUF?"
    "<|im_end|>\n<|im_start|>assistant\nA file format.<|im_end|>\n<|im_start|>user\nWho reads it?"
    "<|im_end|>\n<|im_start|>assistant\n",
    "olmo2": "<|endoftext|><|system|>\nAnswer from the sources.\n<|user|>\nWhat is GGUF?\n<|assistant|>\n"
    "A file format.<|endoftext|>\n<|user|>\nWho reads it?\n<|assistant|>\n",
    "tinyllama": "<|system|>\nAnswer from the sources.</s>\n<|user|>\nWhat is GGUF?</s>\n<|assistant|>\n"
    "A file format.</s>\n<|user|>\nWho reads it?</s>\n<|assistant|>\n",
}
EXPECTED["gemma3"] = EXPECTED["gemma2"]
EXPECTED["smollm"] = EXPECTED["qwen2"]
PLAN = RuntimePlan("cpu", 0, 1, 1, 512, 512, "fits", "tests: one thread, 512-token context")


@pytest.fixture(scope="session")
def family_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny GGUF per family, written once per test session."""
    folder = tmp_path_factory.mktemp("families")
    for family in FAMILIES:
        write_family_gguf(family, folder / f"tiny-{family.name}.gguf")
    return folder


def family_path(family_dir: Path, name: str) -> Path:
    return family_dir / f"tiny-{name}.gguf"


def as_dicts(messages: tuple[ChatMessage, ...]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


@pytest.mark.parametrize("name", NAMES)
def test_the_header_says_what_the_family_is(family_dir: Path, name: str) -> None:
    family = BY_NAME[name]
    info = models.read_model_info(family_path(family_dir, name))
    assert info.architecture == family.arch
    assert info.context_length == family.context_length
    assert info.chat_template == family.template
    assert info.n_layers == 2 and info.quantization == "F32"


@pytest.mark.parametrize("name", NAMES)
def test_the_template_renders_the_system_message_where_the_model_reads_it(name: str) -> None:
    family = BY_NAME[name]
    formatter = chat_template.make_formatter(family.template, family.eos, family.bos or "", -1)
    prompt = chat_template.render_chat(formatter, as_dicts(CONVERSATION)).prompt
    assert prompt == EXPECTED[name]
    assert prompt.count(SYSTEM) == 1 and prompt.index(SYSTEM) < prompt.index("What is GGUF?")
    assert chat_template.check(family.template, family.eos, family.bos or "") == (True, "")


def test_a_template_that_drops_the_system_message_gets_it_folded_in() -> None:
    """Phi-3-mini's first template writes only user and assistant turns: rendered as it is, the
    system message (Hearth's instructions) would vanish without an error."""
    phi3 = BY_NAME["phi3"]
    formatter = chat_template.make_formatter(phi3.template, phi3.eos, phi3.bos or "", -1)
    raw = chat_template.render(formatter, as_dicts(CONVERSATION)).prompt
    assert SYSTEM not in raw
    assert SYSTEM in chat_template.render_chat(formatter, as_dicts(CONVERSATION)).prompt


def test_the_smollm_template_is_the_bundled_models_own(model_path: Path) -> None:
    assert models.read_model_info(model_path).chat_template == SMOLLM2


def test_models_list_reports_every_familys_context_length(
    family_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop.cli import main

    monkeypatch.setenv("HEARTH_MODEL_DIRS", str(family_dir))
    assert main(["models", "list", "--json"]) == 0
    listed = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    for family in FAMILIES:
        entry = listed[f"tiny-{family.name}"]
        assert entry["info"]["context_length"] == family.context_length, family.name
        assert entry["info"]["architecture"] == family.arch and entry["fit"] == "fits"
    assert main(["models", "list"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines() if "tiny-" in line}
    for family in FAMILIES:
        assert str(family.context_length) in rows[f"tiny-{family.name}"]


# ----------------------------------------------------------------------------- through the runtime


def answer(rt: LlamaRuntime, messages: tuple[ChatMessage, ...], max_tokens: int = 8) -> Completion:
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0)
    return drive(rt.stream_chat(messages, params, CancelToken()), None)


StartRuntime = Callable[..., LlamaRuntime]


@pytest.fixture
def runtime_for() -> Iterator[StartRuntime]:
    started: list[LlamaRuntime] = []

    def start(path: Path, plan: RuntimePlan = PLAN) -> LlamaRuntime:
        rt = LlamaRuntime(path, plan, load_timeout_s=60)
        started.append(rt)
        rt.start()
        return rt

    yield start
    for rt in started:
        rt.close()


@pytest.mark.parametrize("name", NAMES)
def test_the_family_loads_keeps_the_system_message_and_stops_at_its_end_of_turn(
    family_dir: Path, runtime_for: StartRuntime, name: str
) -> None:
    rt = runtime_for(family_path(family_dir, name))
    info = rt.start()
    assert info.has_chat_template and not info.notices, info.notices  # its own template, accepted
    # The model child keeps the system message, wherever the template puts it: a longer one makes
    # the prompt longer by its extra tokens (a template that dropped it would not change at all).
    longer = (ChatMessage("system", SYSTEM + EXTRA), *CONVERSATION[1:])
    grown = rt.count_tokens(list(longer)) - rt.count_tokens(list(CONVERSATION))
    assert grown >= rt.count_text_tokens([EXTRA])[0] - 2 > 0
    done = answer(rt, CONVERSATION)
    assert done.text == ANSWER
    assert done.stats.stop_reason == "stop" and done.stats.completion_tokens == 2, done.stats


def test_without_an_end_of_turn_token_the_same_model_runs_to_max_tokens(
    tmp_path: Path, runtime_for: StartRuntime
) -> None:
    """The control: Phi-3 with <|end|> renamed to a word llama.cpp does not know as an end."""
    phi3 = BY_NAME["phi3"]
    renamed = dataclasses.replace(
        phi3, specials=tuple("<|fin|>" if t == "<|end|>" else t for t in phi3.specials), eot="<|fin|>"
    )
    rt = runtime_for(write_family_gguf(renamed, tmp_path / "no-eot.gguf"))
    done = answer(rt, CONVERSATION[1:2], max_tokens=6)
    assert done.text == ANSWER
    assert done.stats.stop_reason == "length" and done.stats.completion_tokens == 6


def test_every_seed_family_is_here() -> None:
    seeds = {"llama3", "phi3", "gemma2", "gemma3", "mistral", "qwen2", "olmo2", "tinyllama", "smollm"}
    assert set(NAMES) == seeds and all(isinstance(f, Family) for f in FAMILIES)


# ----------------------------------------------------------------------------- LoRA adapters


@pytest.mark.parametrize(("scale", "expected"), [(0.0, ANSWER), (1.0, "")])
def test_a_lora_adapter_is_applied_on_its_base_with_its_scale(
    family_dir: Path, tmp_path: Path, runtime_for: StartRuntime, scale: float, expected: str
) -> None:
    """The tiny Phi-3 adapter makes the model end its turn at once; at scale 0 it changes nothing."""
    adapter = write_lora_gguf(BY_NAME["phi3"], tmp_path / "phi3-lora.gguf")
    base = family_path(family_dir, "phi3")
    plan = dataclasses.replace(PLAN, lora_path=str(adapter), lora_scale=scale)
    rt = runtime_for(base, plan)
    done = answer(rt, CONVERSATION[1:2])
    assert done.text == expected and done.stats.stop_reason == "stop"


def test_a_lora_adapter_for_another_base_is_refused_with_the_reason(
    family_dir: Path, tmp_path: Path, runtime_for: StartRuntime
) -> None:
    phi3 = family_path(family_dir, "phi3")
    for_llama = write_lora_gguf(BY_NAME["llama3"], tmp_path / "llama-lora.gguf", target="blk.0.attn_q.weight")
    wider = write_lora_gguf(BY_NAME["phi3"], tmp_path / "wide-lora.gguf", n_embd=128)
    with pytest.raises(ModelFileError) as other_arch:
        adapters.check_adapter(phi3, for_llama)
    assert "an adapter for 'llama' models" in other_arch.value.user_message
    assert "'phi3' model" in other_arch.value.user_message and "another base" in other_arch.value.user_message
    with pytest.raises(ModelFileError) as other_size:
        adapters.check_adapter(phi3, wider)
    assert "made for a model of another size" in other_size.value.user_message
    assert "128×" in other_size.value.user_message and "64×" in other_size.value.user_message
    # The runtime refuses it the same way, before llama.cpp is asked.
    with pytest.raises(ModelFileError) as refused:
        runtime_for(phi3, dataclasses.replace(PLAN, lora_path=str(for_llama)))
    assert refused.value.user_message == other_arch.value.user_message
    with pytest.raises(ModelFileError, match="is a model, not a LoRA adapter"):
        adapters.read_adapter(phi3)


def test_models_list_shows_an_adapter_on_its_base_and_one_for_another_base_as_unusable(
    family_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop.cli import main

    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("phi3", "llama3"):
        (folder / f"tiny-{name}.gguf").write_bytes(family_path(family_dir, name).read_bytes())
    write_lora_gguf(BY_NAME["phi3"], folder / "phi3-lora.gguf")
    write_lora_gguf(BY_NAME["phi3"], folder / "wide-lora.gguf", n_embd=128)
    write_lora_gguf(BY_NAME["gemma2"], folder / "gemma-lora.gguf", target="blk.0.attn_q.weight")
    monkeypatch.setenv("HEARTH_MODEL_DIRS", str(folder))
    for _ in range(2):  # the second time from the discovery cache
        assert main(["models", "list", "--json"]) == 0
        listed = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
        paired = listed["tiny-phi3 + phi3-lora"]
        assert paired["adapter"] == str(folder / "phi3-lora.gguf") and paired["path"].endswith(
            "tiny-phi3.gguf"
        )
        assert paired["info"]["architecture"] == "phi3" and paired["fit"] == "fits"
        assert not any(n.startswith("tiny-llama3 +") for n in listed), "a Phi-3 adapter is not for Llama"
        assert "made for a model of another size" in listed["wide-lora"]["error"]
        assert listed["gemma-lora"]["error"] == (
            "a LoRA adapter for 'gemma2' models, and no 'gemma2' model here is its base"
        )
        assert "phi3-lora" not in listed, "an adapter is listed on its base, not as a model"


def test_choosing_base_plus_adapter_makes_the_runtime_apply_it(
    family_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop.cli import main
    from desktop.cli.common import open_settings
    from desktop.services.runtime import choose_runtime

    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "tiny-phi3.gguf").write_bytes(family_path(family_dir, "phi3").read_bytes())
    adapter = write_lora_gguf(BY_NAME["phi3"], folder / "phi3-lora.gguf")
    monkeypatch.setenv("HEARTH_MODEL_DIRS", str(folder))
    assert main(["models", "use", "tiny-phi3 + phi3-lora"]) == 0
    assert "tiny-phi3 + phi3-lora is now the default model." in capsys.readouterr().out
    choice = choose_runtime(open_settings())
    assert choice.plan.lora_path == str(adapter) and choice.plan.lora_scale == 1.0
    assert choice.model.path == str(folder / "tiny-phi3.gguf")
    with LlamaRuntime(choice.model.path, dataclasses.replace(PLAN, lora_path=choice.plan.lora_path)) as rt:
        assert answer(rt, CONVERSATION[1:2]).text == "", "the adapter ends the turn at once"
    assert main(["models", "use", "tiny-phi3 + nothing"]) == 1
    assert "no model with an adapter called 'tiny-phi3 + nothing'" in capsys.readouterr().err
