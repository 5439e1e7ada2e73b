"""World dynamics: how the hidden world changes after each step (pure functions of the state).

Each module is one mechanism with its equations in its docstring; an environment composes the
ones it supports in its `step`. Every mechanism is off at its default knob value.
"""
