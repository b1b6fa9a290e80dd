"""``make bench`` (``python -m tools.bench``): trigger_marketing at scale, one module per
phase — ``common`` (settings, measures), ``database``, ``seed`` (contacts, the scenario),
``rounds`` (the engine's rounds and the final check), ``anchor`` (the plain mass
mailing), ``realtime`` (overhead of a create), ``experiments`` (issue 11: split,
send-time and capped e-mail steps), ``carts`` (the shop bridge), and ``__main__``
(options, the run, the summary line)."""
