"""pytest plugin entry point (``pytest11``); fixtures and suite collection come with issue #4.

Loaded in every pytest session of a project that installed mtlscheck, so it must import
nothing heavy at module level.
"""
