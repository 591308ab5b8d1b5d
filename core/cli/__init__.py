"""The command line (`densescope`, also `python -m core`): one module per command group.

Each is thin: parse -> call `core.experiments` / `core.workspace` -> print. May import every engine
package; never streamlit, views, ui or figures.
"""
