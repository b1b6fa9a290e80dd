{
    "name": "Trigger Marketing",
    "version": "19.0.1.2.0",
    "summary": "Scenarios that send the right e-mail to the right contact at the right moment, "
    "and a lead score that acts",
    "category": "Marketing/Marketing Automation",
    "author": "trigger_marketing maintainers",
    "website": "https://github.com/trigger-marketing/trigger_marketing",
    "license": "LGPL-3",
    "depends": ["mass_mailing", "web_hierarchy", "auth_signup"],
    "data": [
        "security/trigger_marketing_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "views/marketing_scenario_views.xml",
        "views/marketing_scenario_step_views.xml",
        "views/marketing_scenario_participant_views.xml",
        "views/marketing_scenario_trace_views.xml",
        "views/marketing_experiment_views.xml",
        "views/marketing_scenario_enroll_views.xml",
        "views/marketing_scenario_test_views.xml",
        "views/marketing_scenario_version_views.xml",
        "views/marketing_scenario_live_edit_views.xml",
        "views/mailing_mailing_views.xml",
        "views/res_partner_views.xml",
        "views/marketing_score_rule_views.xml",
        "views/marketing_score_band_action_views.xml",
        "views/marketing_score_history_views.xml",
        "views/marketing_scenario_template_wizard_views.xml",
        "views/res_config_settings_views.xml",
        "views/trigger_marketing_menus.xml",
    ],
    "demo": [
        "demo/marketing_score_demo.xml",
        "demo/marketing_scenario_demo.xml",
        # last: walks the demo scenarios created by the files above
        "demo/marketing_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "trigger_marketing/static/src/**/*",
            # lazy, with web_hierarchy (loaded when a hierarchy view is first shown)
            ("remove", "trigger_marketing/static/src/scenario_step_hierarchy/**/*"),
        ],
        "web.assets_backend_lazy": [
            "trigger_marketing/static/src/scenario_step_hierarchy/**/*",
        ],
        "web.assets_tests": [
            "trigger_marketing/static/tests/tours/**/*",
        ],
    },
    "application": True,
    "installable": True,
}
