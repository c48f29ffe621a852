"""The lane's copy of workerd's ``introspection.py`` (src/pyodide/internal/introspection.py).

workerd uses it to find the entrypoint classes a main module exports and to call their
methods: ``wrapper_func`` converts JS arguments with ``python_from_rpc``, calls the method
(through ``relaxed_call`` for ``fetch``, so extra arguments such as ``env`` and ``ctx`` are
dropped when the method does not take them) and converts the result with ``python_to_rpc``.
The logic here is the same, so handlers see exactly the values they see on Cloudflare.
"""

from inspect import isawaitable, isclass
from types import FunctionType

import js
from pyodide.code import relaxed_call
from pyodide.ffi import to_js

from workers import (
    DurableObject,
    WorkerEntrypoint,
    WorkflowEntrypoint,
    python_from_rpc,
    python_to_rpc,
)


def _getattr_no_get(cls, name):
    for base in cls.__mro__:
        if name in base.__dict__:
            return base.__dict__[name]
    return None


def _collect_methods(cls):
    return sorted(
        name
        for name in dir(cls)
        if not name.startswith("_") and isinstance(_getattr_no_get(cls, name), FunctionType)
    )


def _collect_classes(user_mod, base_cls):
    if hasattr(user_mod, "__all__"):
        keys = user_mod.__all__
    else:
        keys = (key for key in dir(user_mod) if not key.startswith("_"))
    exported = [getattr(user_mod, key) for key in keys]
    return [
        {"className": value.__name__, "methodNames": _collect_methods(value)}
        for value in exported
        if isclass(value) and issubclass(value, base_cls) and value is not base_cls
    ]


def collect_entrypoint_classes(user_mod):
    return to_js(
        {
            "durableObjects": _collect_classes(user_mod, DurableObject),
            "workerEntrypoints": _collect_classes(user_mod, WorkerEntrypoint),
            "workflowEntrypoints": _collect_classes(user_mod, WorkflowEntrypoint),
        },
        dict_converter=js.Object.fromEntries,
    )


async def wrapper_func(relaxed, inst, prop, *args, **kwargs):
    method = getattr(inst, prop)
    py_args = [python_from_rpc(arg) for arg in args]
    py_kwargs = {k: python_from_rpc(v) for k, v in kwargs.items()}
    result = (
        relaxed_call(method, *py_args, **py_kwargs) if relaxed else method(*py_args, **py_kwargs)
    )
    if isawaitable(result):
        return python_to_rpc(await result)
    return python_to_rpc(result)
