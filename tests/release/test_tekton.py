"""deploy/tekton/: the Pipeline and Tasks are valid Tekton v1 and wired to each other and to
``flaresuite release`` as the design note describes."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from graphlib import TopologicalSorter
from pathlib import Path

import pytest
import yaml

from flaresuite.s3.addressing import check_endpoint
from flaresuite_host.cli import build_parser
from flaresuite_host.release.bundle import read_wrangler_config, worker_target
from flaresuite_host.release.fingerprint import fingerprint
from flaresuite_host.release.location import ArtifactLocation
from flaresuite_host.release.metadata import artifact_config_map, owner_label

from .tekton_v1 import SCHEMAS, violations

ROOT = Path(__file__).resolve().parents[2]
TEKTON = ROOT / "deploy" / "tekton"
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
DEVIATIONS = {
    # The kustomize stage is optional (kustomize-base-directory ""), so a run without one need
    # not name a ConfigMap for manifests it does not build; the Task refuses an empty name
    # when it does run.
    "kustomize-manifests-config-map-name": "",
}


def documents() -> list[tuple[str, dict]]:
    found = []
    for path in sorted(TEKTON.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            found.append((path.name, document))
    return found


def example_run() -> dict:
    (run,) = [doc for _, doc in documents() if doc["kind"] == "PipelineRun"]
    return run


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
    expected = {**DESIGN_PARAMS, **DEVIATIONS}
    assert {name: params.get(name, "<missing>") for name in expected} == expected
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
    run = example_run()
    assert run["spec"]["pipelineRef"]["name"] == PIPELINE_NAME
    assert run["spec"]["taskRunTemplate"]["serviceAccountName"] == "flaresuite-release"
    passed = declared(run["spec"], "params")
    required = {p["name"] for p in pipeline()["spec"]["params"] if "default" not in p}
    assert required <= passed <= declared(pipeline()["spec"], "params")
    assert declared(run["spec"], "workspaces") == declared(pipeline()["spec"], "workspaces")


# The example run, evaluated the way Tekton would: its values over the Pipeline's defaults,
# the `when` expressions, and each Task's parameters, then checked against this repository.


def run_params(run: dict) -> dict[str, str]:
    """The Pipeline's parameters as ``run`` sets them: its values over the defaults."""
    defaults = {p["name"]: p.get("default") for p in pipeline()["spec"]["params"]}
    resolved = {**defaults, **{p["name"]: p["value"] for p in run["spec"]["params"]}}
    assert all(isinstance(value, str) for value in resolved.values()), resolved
    return resolved


def substitute(text: str, params: Mapping[str, str]) -> str:
    """``$(params.NAME)`` replaced by its value; other references are left as they are."""
    return REFERENCE.sub(
        lambda m: params[m.group(2)] if m.group(1) == "params" else m.group(0), text
    )


def runs(pipeline_task: dict, params: Mapping[str, str]) -> bool:
    """Tekton runs a task only when every ``when`` expression holds
    (https://tekton.dev/docs/pipelines/pipelines/#guard-task-execution-using-when-expressions)."""
    for when in pipeline_task.get("when", []):
        found = substitute(when["input"], params) in when["values"]
        if found != (when["operator"] == "in"):
            return False
    return True


def task_params(pipeline_task: dict, params: Mapping[str, str]) -> dict[str, str]:
    """What the Task's ``$(params.…)`` resolve to: the Pipeline's values over its defaults."""
    spec = tasks()[pipeline_task["taskRef"]["name"]]["spec"]
    defaults = {p["name"]: p["default"] for p in spec["params"] if "default" in p}
    passed = {p["name"]: substitute(p["value"], params) for p in pipeline_task["params"]}
    return {**defaults, **passed}


def stages(params: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """The Pipeline's own Tasks that run with ``params``, by pipeline task name."""
    return {
        task["name"]: task_params(task, params)
        for task in pipeline()["spec"]["tasks"]
        if "resolver" not in task["taskRef"] and runs(task, params)
    }


def test_the_kustomize_stage_runs_unless_its_directory_is_empty() -> None:
    params = run_params(example_run())
    assert "kustomize-build" in stages({**params, "kustomize-base-directory": "_kustomize"})
    assert "kustomize-build" not in stages({**params, "kustomize-base-directory": ""})


def test_the_pipeline_results_come_from_stages_that_always_run() -> None:
    spec = pipeline()["spec"]
    guarded = {task["name"] for task in spec["tasks"] if task.get("when")}
    sources = {reference.partition(".")[0] for reference in references(spec["results"], "tasks")}
    assert sources and not sources & guarded


def test_every_stage_of_the_example_run_accepts_its_values_on_this_repository() -> None:
    """The run succeeds as far as anything offline can tell: each stage's values pass the
    checks the release tool makes, against this repository's own wrangler.toml; a kustomize
    stage runs only if its directory exists here."""
    params = run_params(example_run())
    project = ROOT / params["project-root"]
    ran = stages(params)

    bundle = ran["bundle-worker"]
    worker_target(read_wrangler_config(project), bundle["worker"])

    upload = ran["upload-bundle"]
    location = ArtifactLocation(upload["r2-bucket-name"], upload["r2-object-key"])
    check_endpoint(upload["r2-endpoint-url"])

    metadata = ran["store-artifact-metadata"]
    artifact_config_map(
        name=metadata["config-map-name"],
        location=location,
        bundle=fingerprint(b""),
        owner=owner_label(
            metadata["owner-identifier-label-key"], metadata["owner-identifier-label-value"]
        ),
    )
    assert {bundle["worker"], upload["worker"], metadata["worker"]} == {params["worker"]}

    kustomize = ran.get("kustomize-build")
    if kustomize is None:
        assert not (project / DESIGN_PARAMS["kustomize-base-directory"]).exists()
    else:
        assert (project / kustomize["kustomize-base-directory"]).is_dir()
        assert kustomize["config-map-name"]


def expand(line: str, env: Mapping[str, str]) -> list[str]:
    """``line`` as ``sh`` would split it with ``env`` set (the variables sit in double quotes,
    so a value is pasted as it is)."""
    return shlex.split(SHELL_VARIABLE.sub(lambda m: env[m.group(1)], line))


def test_the_example_runs_release_commands_parse_with_its_values() -> None:
    params = run_params(example_run())
    pipeline_tasks = {task["name"]: task for task in pipeline()["spec"]["tasks"]}
    checked = 0
    for name, values in stages(params).items():
        task = tasks()[pipeline_tasks[name]["taskRef"]["name"]]
        for step in task["spec"]["steps"]:
            env = {
                var["name"]: REFERENCE.sub("/placeholder", substitute(var["value"], values))
                for var in step.get("env", [])
            }
            script = step.get("script", "").replace("\\\n", " ")
            for line in script.splitlines():
                if "flaresuite release" not in line:
                    continue
                words = expand(line, {"PATH": "", **env})
                end = words.index(">") if ">" in words else len(words)
                args = build_parser().parse_args(words[words.index("release") : end])
                assert args.worker == params["worker"]
                checked += 1
    assert checked == 3
