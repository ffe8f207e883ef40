"""ckptscope's server: HTTP API, storage, job dispatch and the sandboxed worker; composes ckpt_core."""
