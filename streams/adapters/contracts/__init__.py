"""Schemas as contracts: compatibility modes, the gate, the publication lock, the registry.

``check_contracts`` is the gate behind ``ledgerstream schemas check``;
``lock_new_versions`` publishes new versions to ``schemas/published.lock``;
``register_subjects`` puts every version on a Confluent-compatible registry;
``render_events_doc`` writes ``docs/events.md`` from the ``.avsc`` files.
"""
