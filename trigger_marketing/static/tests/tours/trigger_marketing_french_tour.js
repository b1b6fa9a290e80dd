import { registry } from "@web/core/registry";

/**
 * A French-speaking marketer (user language fr_FR) builds a scenario from a template.
 * Every selector looks for French text: menus and views (data terms), the template
 * picker and the step summaries (Python terms), the step tree (JS and OWL terms).
 */
registry.category("web_tour.tours").add("trigger_marketing_french_tour", {
    url: "/odoo/action-trigger_marketing.marketing_scenario_action",
    steps: () => [
        {
            content: "The scenarios, in the French menu",
            trigger: ".o_main_navbar .o_menu_sections:contains(Analyse)",
        },
        {
            content: "Start from a ready-made scenario",
            trigger: ".o_main_navbar a:contains(Nouveau à partir)",
            run: "click",
        },
        {
            content: "The picker lists the ready-made scenarios in French",
            trigger: ".modal div[name=template] label:contains(Suivi des contacts chauds)",
        },
        {
            trigger: ".modal div[name=template] label:contains(Série de bienvenue)",
            run: "click",
        },
        {
            content: "with their description",
            trigger: ".modal div[name=description]:contains(un e-mail de bienvenue)",
        },
        {
            trigger: ".modal p:contains(Le scénario est créé en brouillon)",
        },
        {
            content: "Create it",
            trigger: ".modal button[name=action_create]:contains(Créer)",
            run: "click",
        },
        {
            content: "The draft scenario, its French buttons",
            trigger: ".o_statusbar_status .o_arrow_button_current:contains(Brouillon)",
            // creating the scenario, then the first display of a step tree (its lazy
            // assets): slow on a loaded machine
            timeout: 30000,
        },
        {
            trigger: ".o_statusbar_buttons button[name=action_start]:contains(Lancer)",
        },
        {
            content: "The tree of its steps, in plain French",
            trigger: ".o_tm_step_card:contains(Bienvenue):contains(envoyer « Bienvenue à bord ! »)",
        },
        {
            trigger: ".o_tm_branch_label:contains(E-mail non ouvert)",
        },
        {
            trigger: ".o_tm_branch_label:contains(Ensuite)",
        },
        {
            trigger: ".o_tm_step_card:contains(Bienvenue) .o_tm_add_mail_click:contains(si cliqué)",
        },
        {
            trigger: ".o_tm_scenario_tree .o_tm_add_first_step:contains(Première étape)",
        },
        {
            trigger: ".o_tm_scenario_tree span:contains(Cliquez sur une étape pour la modifier)",
        },
        {
            content: "Open a step",
            trigger: ".o_tm_step_card:contains(Meilleurs contenus)",
            run: "click",
        },
        {
            content: "Its form speaks French too",
            trigger: ".modal .modal-title:contains(Étape)",
        },
        {
            trigger: ".modal .o_form_view div[name=mail_subject] input:value(Nos contenus les plus appréciés)",
        },
        {
            trigger: ".modal .o_form_view .o_inner_group:contains(Quand)",
        },
        {
            trigger: ".modal .o_form_button_cancel",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
    ],
});
