"""The part of Tekton Pipelines' v1 API (``tekton.dev/v1``) our manifests use, as allowed keys
per object, so that a misspelt or misplaced field fails a test instead of ``kubectl apply``.

Field names are those of the Go types in tektoncd/pipeline ``pkg/apis/pipeline/v1``
(pipeline_types.go, pipelinerun_types.go, task_types.go, container_types.go, param_types.go,
workspace_types.go, result_types.go, resolver_types.go); Kubernetes' own types (EnvVar,
ObjectMeta) are cut down to the keys that can appear here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Obj:
    fields: dict[str, object]
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListOf:
    item: object


@dataclass(frozen=True)
class OneOf:
    choices: tuple[str, ...] = field(default=())


ANY = object()
STRING = str

OBJECT_META = Obj(
    {
        "name": STRING,
        "generateName": STRING,
        "namespace": STRING,
        "labels": dict,
        "annotations": dict,
    }
)

PARAM_SPEC = Obj(
    {
        "name": STRING,
        "type": OneOf(("string", "array", "object")),
        "description": STRING,
        "properties": dict,
        "default": ANY,
        "enum": ListOf(STRING),
    },
    required=("name",),
)
PARAM = Obj({"name": STRING, "value": ANY}, required=("name", "value"))

TASK_REF = Obj(
    {
        "name": STRING,
        "kind": OneOf(("Task", "ClusterTask")),
        "apiVersion": STRING,
        "resolver": STRING,
        "params": ListOf(PARAM),
    },
)
WHEN = Obj(
    {"input": STRING, "operator": OneOf(("in", "notin")), "values": ListOf(STRING), "cel": STRING}
)
WORKSPACE_BINDING = Obj(
    {"name": STRING, "workspace": STRING, "subPath": STRING}, required=("name",)
)
PIPELINE_TASK = Obj(
    {
        "name": STRING,
        "displayName": STRING,
        "description": STRING,
        "taskRef": TASK_REF,
        "taskSpec": dict,
        "when": ListOf(WHEN),
        "runAfter": ListOf(STRING),
        "retries": int,
        "params": ListOf(PARAM),
        "matrix": dict,
        "workspaces": ListOf(WORKSPACE_BINDING),
        "timeout": STRING,
        "pipelineRef": dict,
        "pipelineSpec": dict,
        "onError": OneOf(("continue", "stopAndFail")),
    },
    required=("name",),
)
PIPELINE_WORKSPACE = Obj(
    {"name": STRING, "description": STRING, "optional": bool}, required=("name",)
)
PIPELINE_RESULT = Obj(
    {
        "name": STRING,
        "type": OneOf(("string", "array", "object")),
        "description": STRING,
        "value": ANY,
    },
    required=("name", "value"),
)
PIPELINE = Obj(
    {
        "apiVersion": OneOf(("tekton.dev/v1",)),
        "kind": OneOf(("Pipeline",)),
        "metadata": OBJECT_META,
        "spec": Obj(
            {
                "displayName": STRING,
                "description": STRING,
                "tasks": ListOf(PIPELINE_TASK),
                "params": ListOf(PARAM_SPEC),
                "workspaces": ListOf(PIPELINE_WORKSPACE),
                "results": ListOf(PIPELINE_RESULT),
                "finally": ListOf(PIPELINE_TASK),
            },
            required=("tasks",),
        ),
    },
    required=("apiVersion", "kind", "metadata", "spec"),
)

ENV_VAR = Obj({"name": STRING, "value": STRING, "valueFrom": dict}, required=("name",))
STEP = Obj(
    {
        "name": STRING,
        "displayName": STRING,
        "image": STRING,
        "command": ListOf(STRING),
        "args": ListOf(STRING),
        "workingDir": STRING,
        "envFrom": list,
        "env": ListOf(ENV_VAR),
        "computeResources": dict,
        "volumeMounts": list,
        "volumeDevices": list,
        "imagePullPolicy": OneOf(("Always", "Never", "IfNotPresent")),
        "securityContext": dict,
        "script": STRING,
        "timeout": STRING,
        "workspaces": list,
        "onError": OneOf(("continue", "stopAndFail")),
        "stdoutConfig": dict,
        "stderrConfig": dict,
        "ref": dict,
        "params": ListOf(PARAM),
        "results": list,
        "when": ListOf(WHEN),
    },
    required=("name", "image"),
)
TASK_WORKSPACE = Obj(
    {
        "name": STRING,
        "description": STRING,
        "mountPath": STRING,
        "readOnly": bool,
        "optional": bool,
    },
    required=("name",),
)
TASK_RESULT = Obj(
    {
        "name": STRING,
        "type": OneOf(("string", "array", "object")),
        "properties": dict,
        "description": STRING,
        "value": ANY,
    },
    required=("name",),
)
TASK = Obj(
    {
        "apiVersion": OneOf(("tekton.dev/v1",)),
        "kind": OneOf(("Task",)),
        "metadata": OBJECT_META,
        "spec": Obj(
            {
                "displayName": STRING,
                "description": STRING,
                "params": ListOf(PARAM_SPEC),
                "steps": ListOf(STEP),
                "volumes": list,
                "stepTemplate": dict,
                "sidecars": list,
                "workspaces": ListOf(TASK_WORKSPACE),
                "results": ListOf(TASK_RESULT),
            },
            required=("steps",),
        ),
    },
    required=("apiVersion", "kind", "metadata", "spec"),
)

RUN_WORKSPACE_BINDING = Obj(
    {
        "name": STRING,
        "subPath": STRING,
        "volumeClaimTemplate": dict,
        "persistentVolumeClaim": dict,
        "emptyDir": dict,
        "configMap": dict,
        "secret": dict,
        "projected": dict,
        "csi": dict,
    },
    required=("name",),
)
PIPELINE_RUN = Obj(
    {
        "apiVersion": OneOf(("tekton.dev/v1",)),
        "kind": OneOf(("PipelineRun",)),
        "metadata": OBJECT_META,
        "spec": Obj(
            {
                "pipelineRef": Obj({"name": STRING, "resolver": STRING, "params": ListOf(PARAM)}),
                "pipelineSpec": dict,
                "params": ListOf(PARAM),
                "status": STRING,
                "timeouts": Obj({"pipeline": STRING, "tasks": STRING, "finally": STRING}),
                "taskRunTemplate": Obj({"serviceAccountName": STRING, "podTemplate": dict}),
                "workspaces": ListOf(RUN_WORKSPACE_BINDING),
                "taskRunSpecs": list,
            }
        ),
    },
    required=("apiVersion", "kind", "metadata", "spec"),
)

SCHEMAS = {"Pipeline": PIPELINE, "Task": TASK, "PipelineRun": PIPELINE_RUN}


def violations(node: object, schema: object, where: str = "") -> list[str]:
    """Every place where ``node`` does not fit ``schema``, as ``path: problem``."""
    if schema is ANY:
        return []
    if isinstance(schema, OneOf):
        return [] if node in schema.choices else [f"{where}: {node!r} not in {schema.choices}"]
    if isinstance(schema, type):
        ok = isinstance(node, schema) and not (schema is int and isinstance(node, bool))
        return [] if ok else [f"{where}: expected {schema.__name__}, got {type(node).__name__}"]
    if isinstance(schema, ListOf):
        if not isinstance(node, list):
            return [f"{where}: expected a list"]
        return [
            problem
            for index, item in enumerate(node)
            for problem in violations(item, schema.item, f"{where}[{index}]")
        ]
    assert isinstance(schema, Obj)
    if not isinstance(node, dict):
        return [f"{where}: expected a mapping"]
    problems = [f"{where}: unknown field {key!r}" for key in node if key not in schema.fields]
    problems += [f"{where}: missing {key!r}" for key in schema.required if key not in node]
    for key, value in node.items():
        if key in schema.fields:
            problems += violations(value, schema.fields[key], f"{where}.{key}")
    return problems
