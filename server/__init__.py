"""ckptscope's server: HTTP API, storage, job dispatch, sandboxed worker; composes ckpt_core."""
