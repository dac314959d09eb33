"""Sphinx extension: execute the chapters over an encrypted kernel connection.

ipykernel 7 warns "Kernel is running over TCP without encryption" on every kernel start unless the
kernel manager provisions CurveZMQ keys, which jupyter_client only does with
``KernelManager.transport_encryption`` set to "auto" or "required" (default: "disabled"). myst-nb
creates its kernel managers through nbclient without passing any configuration, so there is no
_config.yml option for it: this extension sets the trait's class default before any kernel starts.
"auto" provisions keys only where the kernelspec declares Curve support (ipykernel's does) and
libzmq has Curve; elsewhere the kernel runs as before (with the warning). Loaded from _config.yml
(``sphinx.local_extensions``).
"""

from __future__ import annotations


def setup(app):
    import zmq
    from jupyter_client.manager import KernelManager

    if zmq.has("curve"):
        KernelManager.class_traits()["transport_encryption"].default_value = "auto"
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
