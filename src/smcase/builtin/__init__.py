"""smcase's built-in plugins: adapters, classifiers and the default decision.

Each module is one plugin, registered by ``smcase.plugins.BUILTINS`` exactly like
a third-party plugin, so any of them can be disabled by name and replaced.
They see only events, the policy and the hookimpl marker.
"""
