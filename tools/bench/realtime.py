"""Real-time overhead: the extra queries of a create when a running scenario reacts."""

from .common import Measure


def realtime_overhead(registry, env_factory):
    """Extra queries of a res.partner create (fresh transaction, warm caches) when a
    running scenario enters records on creation."""
    counter = [0]

    def create_one(label):
        counter[0] += 1
        with registry.cursor() as cr:
            env = env_factory(cr)
            Partner = env["res.partner"]
            with Measure() as m:
                Partner.create(
                    {"name": f"Realtime {label}", "email": f"realtime{counter[0]}@example.com"}
                )
                env.flush_all()
        return m.queries

    with registry.cursor() as cr:
        env = env_factory(cr)
        scenario = env["marketing.scenario"].create(
            {
                "name": "Bench real-time",
                "model_id": env["ir.model"]._get_id("res.partner"),
                "trigger": "create",
                "domain": "[('email', '!=', False)]",
            }
        )
        env["marketing.scenario.step"].create(
            {
                "name": "Welcome later",
                "scenario_id": scenario.id,
                "action_type": "wait",
                "delay": 1,
                "delay_unit": "days",
            }
        )
        scenario_id = scenario.id
    # without a running 'create' scenario (draft), warm, then measured
    create_one("warm-up")
    without = create_one("without")
    with registry.cursor() as cr:
        env_factory(cr)["marketing.scenario"].browse(scenario_id).action_start()
    create_one("warm-up")
    with_scenario = create_one("with")
    with registry.cursor() as cr:
        env = env_factory(cr)
        env.cr.execute(
            "SELECT count(*) FROM marketing_scenario_participant WHERE scenario_id = %s",
            [scenario_id],
        )
        entered = env.cr.fetchone()[0]
        env["marketing.scenario"].browse(scenario_id).action_stop()
    if entered != 2:
        raise RuntimeError(f"the real-time scenario got {entered} participants, expected 2")
    return without, with_scenario
