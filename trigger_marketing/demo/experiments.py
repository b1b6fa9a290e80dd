"""The living demo's experiment: an A/B test of two subjects, with a holdout."""

from markupsafe import Markup

# Open rates of the demo's subjects (the other mails open at populate.P_OPEN): the
# second subject wins the demo's A/B test.
OPEN_BY_SUBJECT = {
    "Our spring news": 0.3,
    "Your spring picks are ready": 0.65,
}


def create_ab_test(env, customer):
    """A running scenario that tests two subjects on 10 % held out contacts aside; its
    goal, like the demo's own scenario, is becoming a customer."""
    Step = env["marketing.scenario.step"]
    scenario = env["marketing.scenario"].create(
        {
            "name": env._("Spring newsletter (A/B test)"),
            "model_id": env["ir.model"]._get_id("res.partner"),
            "trigger": "manual",
            "domain": "[('email', '!=', False)]",
            "goal_domain": f"[('category_id', 'in', [{customer.id}])]",
            "reentry": "never",
            "holdout_percent": 10,
        }
    )
    split = Step.create(
        {
            "scenario_id": scenario.id,
            "name": "Which subject?",
            "action_type": "split",
            "split_metric": "open",
            "split_min_sample": 30,
            "split_confidence": 95.0,
        }
    )
    body = Markup(
        '<p>Hello <t t-out="object.name"/>,</p><p>Our spring selection is here.</p>'
        '<p><a href="https://www.example.com/spring">See the selection</a></p>'
    )
    for name, subject in (
        ("Subject A", "Our spring news"),
        ("Subject B", "Your spring picks are ready"),
    ):
        branch = Step.create(
            {
                "scenario_id": scenario.id,
                "parent_id": split.id,
                "name": name,
                "trigger_type": "split",
                "split_weight": 50,
                "action_type": "mail",
                "mail_subject": subject,
                "mail_body_html": body,
            }
        )
        Step.create(
            {
                "scenario_id": scenario.id,
                "parent_id": branch.id,
                "name": "Time to decide",
                "action_type": "wait",
                "delay": 7,
            }
        )
    scenario.action_start()
    return scenario
