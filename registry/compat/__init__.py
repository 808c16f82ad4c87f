"""Drop-in replacements for the APIs of other tools, built on esm-registry.

- :mod:`registry.compat.hfselect`: the API of hf-dataset-selector 0.2.1 (``hfselect``):
  ``Dataset``, ``compute_task_ranking``, ``compute_scores``, ``TaskRanking``, ``ESM``,
  ``ESMConfig``, ``find_esm_repo_ids``, ``fetch_esm_configs``, ``fetch_esms`` and
  ``get_esm_coverage``, with hfselect's arguments, defaults, outputs and scores. Migrating
  is one import line::

      from registry.compat import hfselect   # was: import hfselect

Nothing here imports the tool it replaces.
"""
