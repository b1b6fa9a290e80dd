{
    "name": "Trigger Marketing - Sales",
    "version": "19.0.1.1.0",
    "summary": "Confirmed orders score the customer; 'quotation expires soon' scenario",
    "category": "Marketing/Marketing Automation",
    "author": "trigger_marketing maintainers",
    "website": "https://github.com/trigger-marketing/trigger_marketing",
    "license": "LGPL-3",
    "depends": ["sale", "trigger_marketing"],
    "demo": ["demo/marketing_scenario_demo.xml"],
    "data": [],
    "auto_install": True,
    "installable": True,
}
