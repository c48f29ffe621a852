"""deploy/tekton/: the Pipeline and Tasks are valid Tekton v1 and wired to each other and to
``flaresuite release`` as the design note describes."""

from __future__ import annotations

import re
import shlex
from graphlib import TopologicalSorter
from pathlib import Path

import pytest
import yaml

from flaresuite_host.cli import build_parser

from .tekton_v1 import SCHEMAS, violations

TEKTON = Path(__file__).resolve().parents[2] / "deploy" / "tekton"
PIPELINE_NAME = "build-and-upload-cloudflare-worker"
REFERENCE = re.compile(r"\$\((params|workspaces|results|tasks)\.([A-Za-z0-9_.-]+)\)")
SHELL_VARIABLE = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)")

DESIGN_PARAMS = {
    # name: default (None: required)
    "git-url": None,
    "git-revision": "main",
    "project-root": ".",
    "sparse-checkout-directories": "",
    "r2-bucket-name": None,
    "r2-endpoint-url": None,
    "r2-object-key": None,
    "worker-script-artifact-config-map-name": None,
    "kustomize-manifests-config-map-name": None,
    "kustomize-base-directory": "_kustomize",
    "owner-identifier-label-key": "",
    "owner-identifier-label-value": "",
}


def documents() -> list[tuple[str, dict]]:
    found = []
    for path in sorted(TEKTON.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            found.append((path.name, document))
    return found


def tekton_documents() -> list[tuple[str, dict]]:
    return [
        (name, doc)
        for name, doc in documents()
        if doc["kind"] in SCHEMAS and doc["apiVersion"].startswith("tekton.dev/")
    ]


def tasks() -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in tekton_documents() if doc["kind"] == "Task"}


def pipeline() -> dict:
    (found,) = [doc for _, doc in tekton_documents() if doc["kind"] == "Pipeline"]
    return found


def references(node: object, scope: str) -> set[str]:
    """Names referenced as ``$(<scope>.<name>...)`` anywhere in ``node``."""
    text = yaml.safe_dump(node, width=10_000)
    return {name for kind, name in REFERENCE.findall(text) if kind == scope}


def declared(spec: dict, field: str) -> set[str]:
    return {item["name"] for item in spec.get(field, [])}


def test_the_directory_holds_the_pipeline_and_its_four_tasks() -> None:
    assert pipeline()["metadata"]["name"] == PIPELINE_NAME
    assert sorted(tasks()) == [
        "flaresuite-bundle-worker",
        "flaresuite-store-artifact-metadata",
        "flaresuite-upload-bundle",
        "kustomize-build-to-config-map",
    ]


@pytest.mark.parametrize(
    "source, document",
    tekton_documents(),
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_every_manifest_uses_only_tekton_v1_fields(source: str, document: dict) -> None:
    assert violations(document, SCHEMAS[document["kind"]], document["kind"]) == []


def test_the_schema_catches_misspelt_and_misplaced_fields() -> None:
    task = tasks()["flaresuite-bundle-worker"]
    broken = yaml.safe_load(yaml.safe_dump(task))
    broken["spec"]["steps"][0]["workdir"] = "/src"
    broken["spec"]["params"][0]["defaults"] = "."
    del broken["spec"]["steps"][1]["image"]
    broken["apiVersion"] = "tekton.dev/v1beta1"
    assert violations(broken, SCHEMAS["Task"], "Task") == [
        "Task.apiVersion: 'tekton.dev/v1beta1' not in ('tekton.dev/v1',)",
        "Task.spec.params[0]: unknown field 'defaults'",
        "Task.spec.steps[0]: unknown field 'workdir'",
        "Task.spec.steps[1]: missing 'image'",
    ]


def test_the_pipeline_has_the_design_notes_parameters_and_defaults() -> None:
    params = {param["name"]: param.get("default") for param in pipeline()["spec"]["params"]}
    assert {name: params.get(name, "<missing>") for name in DESIGN_PARAMS} == DESIGN_PARAMS
    assert set(params) - set(DESIGN_PARAMS) == {"worker"}
    assert params["worker"] == "index"
    assert declared(pipeline()["spec"], "workspaces") == {"source", "r2-credentials"}


def test_names_are_unique() -> None:
    for name, document in [(PIPELINE_NAME, pipeline()), *tasks().items()]:
        spec = document["spec"]
        for field in ("params", "workspaces", "results", "tasks", "steps"):
            names = [item["name"] for item in spec.get(field, [])]
            assert len(names) == len(set(names)), (name, field)


@pytest.mark.parametrize("name", sorted(tasks()))
def test_a_task_references_only_what_it_declares(name: str) -> None:
    spec = tasks()[name]["spec"]
    assert references(spec, "params") <= declared(spec, "params")
    assert {ref.removesuffix(".path") for ref in references(spec, "workspaces")} <= declared(
        spec, "workspaces"
    )
    assert {ref.removesuffix(".path") for ref in references(spec, "results")} <= declared(
        spec, "results"
    )


@pytest.mark.parametrize("name", sorted(tasks()))
def test_a_task_declares_every_param_it_has_a_use_for(name: str) -> None:
    spec = tasks()[name]["spec"]
    assert declared(spec, "params") == references(spec, "params")


@pytest.mark.parametrize("name", sorted(tasks()))
def test_scripts_use_only_environment_variables_their_step_sets(name: str) -> None:
    for step in tasks()[name]["spec"]["steps"]:
        script = step.get("script", "")
        assigned = set(re.findall(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=", script, re.M))
        available = declared(step, "env") | assigned | {"PATH", "PWD", "HOME"}
        used = set(SHELL_VARIABLE.findall(script))
        assert used <= available, (step["name"], used - available)


def test_the_pipeline_references_only_its_params_and_its_tasks_results() -> None:
    spec = pipeline()["spec"]
    assert references(spec, "params") == declared(spec, "params")
    for reference in references(spec, "tasks"):
        task_name, _, result = reference.partition(".results.")
        assert task_name in declared(spec, "tasks")
        task = next(t for t in spec["tasks"] if t["name"] == task_name)
        if "name" in task["taskRef"]:
            assert result in declared(tasks()[task["taskRef"]["name"]]["spec"], "results")


def test_pipeline_tasks_pass_every_required_param_and_only_declared_ones() -> None:
    for pipeline_task in pipeline()["spec"]["tasks"]:
        if "resolver" in pipeline_task["taskRef"]:
            continue
        spec = tasks()[pipeline_task["taskRef"]["name"]]["spec"]
        passed = declared(pipeline_task, "params")
        required = {param["name"] for param in spec["params"] if "default" not in param}
        assert required <= passed <= declared(spec, "params"), pipeline_task["name"]


def test_pipeline_tasks_bind_every_workspace_their_task_needs() -> None:
    spec = pipeline()["spec"]
    for pipeline_task in spec["tasks"]:
        bindings = {b["name"]: b["workspace"] for b in pipeline_task.get("workspaces", [])}
        assert set(bindings.values()) <= declared(spec, "workspaces")
        if "resolver" in pipeline_task["taskRef"]:
            assert set(bindings) == {"output"}  # git-clone 0.9's checkout workspace
            continue
        task_spec = tasks()[pipeline_task["taskRef"]["name"]]["spec"]
        needed = {w["name"] for w in task_spec.get("workspaces", []) if not w.get("optional")}
        assert needed <= set(bindings) <= declared(task_spec, "workspaces")


def test_the_checkout_is_tekton_catalogs_git_clone_0_9() -> None:
    (fetch,) = [t for t in pipeline()["spec"]["tasks"] if t["name"] == "fetch-source"]
    resolver = {p["name"]: p["value"] for p in fetch["taskRef"]["params"]}
    assert fetch["taskRef"]["resolver"] == "git"
    assert resolver["pathInRepo"] == "task/git-clone/0.9/git-clone.yaml"
    assert {p["name"] for p in fetch["params"]} == {
        "url",
        "revision",
        "sparseCheckoutDirectories",
        "deleteExisting",
    }


def test_stages_run_in_order_with_kustomize_in_parallel() -> None:
    spec = pipeline()["spec"]
    graph = {t["name"]: set(t.get("runAfter", [])) for t in spec["tasks"]}
    assert set().union(*graph.values()) <= set(graph)
    order = list(TopologicalSorter(graph).static_order())  # raises on a cycle

    def ancestors(name: str) -> set[str]:
        direct = graph[name]
        return direct.union(*(ancestors(parent) for parent in direct)) if direct else set()

    assert order[0] == "fetch-source"
    assert ancestors("store-artifact-metadata") == {
        "fetch-source",
        "bundle-worker",
        "upload-bundle",
    }
    assert ancestors("kustomize-build") == {"fetch-source"}
    assert not any("kustomize-build" in ancestors(name) for name in graph)


def release_commands() -> list[tuple[str, list[str]]]:
    """Every ``flaresuite release ...`` command line in a step script, without its output
    redirection and with each shell variable replaced by a placeholder value."""
    found = []
    for name, task in tasks().items():
        for step in task["spec"]["steps"]:
            script = step.get("script", "").replace("\\\n", " ")
            for line in script.splitlines():
                if "flaresuite release" in line:
                    words = shlex.split(SHELL_VARIABLE.sub("placeholder", line))
                    end = words.index(">") if ">" in words else len(words)  # a redirection
                    start = words.index("release")
                    found.append((f"{name}/{step['name']}", words[start:end]))
    return found


def test_the_tasks_run_bundle_upload_and_metadata() -> None:
    assert [(where, words[1]) for where, words in release_commands()] == [
        ("flaresuite-bundle-worker/bundle", "bundle"),
        ("flaresuite-store-artifact-metadata/render", "metadata"),
        ("flaresuite-upload-bundle/upload", "upload"),
    ]


@pytest.mark.parametrize(
    "where, words", release_commands(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_release_command_line_is_accepted_by_the_cli(where: str, words: list[str]) -> None:
    args = build_parser().parse_args(words)
    assert args.group == "release"


def test_the_kustomization_installs_every_manifest_but_the_example_run() -> None:
    kustomization = yaml.safe_load((TEKTON / "kustomization.yaml").read_text())
    expected = {path.name for path in TEKTON.glob("*.yaml")} - {
        "kustomization.yaml",
        "pipelinerun-example.yaml",
    }
    assert set(kustomization["resources"]) == expected


def test_the_example_run_passes_every_required_pipeline_param() -> None:
    (run,) = [doc for _, doc in documents() if doc["kind"] == "PipelineRun"]
    assert run["spec"]["pipelineRef"]["name"] == PIPELINE_NAME
    passed = declared(run["spec"], "params")
    required = {name for name, default in DESIGN_PARAMS.items() if default is None}
    assert required <= passed <= declared(pipeline()["spec"], "params")
    assert declared(run["spec"], "workspaces") == declared(pipeline()["spec"], "workspaces")
