{
    "name": "Trigger Marketing - CRM",
    "version": "19.0.1.1.0",
    "summary": "The contact's lead score and band on CRM leads and opportunities",
    "category": "Marketing/Marketing Automation",
    "author": "trigger_marketing maintainers",
    "website": "https://github.com/trigger-marketing/trigger_marketing",
    "license": "LGPL-3",
    "depends": ["crm", "trigger_marketing"],
    "data": ["views/crm_lead_views.xml"],
    "auto_install": True,
    "installable": True,
}
