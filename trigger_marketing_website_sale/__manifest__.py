{
    "name": "Trigger Marketing - eCommerce",
    "version": "19.0.1.1.0",
    "summary": "Abandoned carts enter trigger marketing scenarios: reminder, coupon, last call",
    "category": "Marketing/Marketing Automation",
    "author": "trigger_marketing maintainers",
    "website": "https://github.com/trigger-marketing/trigger_marketing",
    "license": "LGPL-3",
    "depends": ["trigger_marketing", "website_sale"],
    "demo": ["demo/marketing_scenario_demo.xml"],
    "data": [
        "data/ir_cron_data.xml",
        "views/marketing_scenario_views.xml",
        "views/res_config_settings_views.xml",
    ],
    "pre_init_hook": "pre_init_hook",
    "auto_install": True,
    "installable": True,
}
