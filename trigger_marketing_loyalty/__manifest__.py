{
    "name": "Trigger Marketing - Coupons",
    "version": "19.0.1.1.0",
    "summary": "E-mail steps that give each contact a real single-use coupon code (loyalty)",
    "category": "Marketing/Marketing Automation",
    "author": "trigger_marketing maintainers",
    "website": "https://github.com/trigger-marketing/trigger_marketing",
    "license": "LGPL-3",
    "depends": ["loyalty", "trigger_marketing"],
    "data": ["views/marketing_scenario_step_views.xml"],
    "auto_install": True,
    "installable": True,
}
