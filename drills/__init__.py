"""The plan files shipped with odin-drills (``odin demo`` and the deployments read them from here).

A package only so an installed odin finds its own demo plan; copy a file to start your own plan.
"""
