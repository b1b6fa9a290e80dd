import { registry } from "@web/core/registry";

/** Create the scenario from the ready-made "Welcome series" (the template picker). */
function createFromTemplateSteps() {
    return [
        {
            content: "Start from a ready-made scenario",
            trigger: ".o_main_navbar a:contains(New from a template)",
            run: "click",
        },
        {
            content: "Pick the welcome series",
            trigger: ".modal div[name=template] label:contains(Welcome series)",
            run: "click",
        },
        {
            trigger: ".modal button[name=action_create]",
            run: "click",
        },
        {
            content: "The draft scenario opens on its tree",
            trigger: ".o_tm_tree > .o_tm_tree_node > .o_hierarchy_node_container .o_tm_step_card:contains(Welcome)",
        },
        {
            content: "with its ready-made branch",
            trigger: ".o_tm_tree_children .o_tm_branch_label:contains(Mail not opened)",
        },
    ];
}

/** Add a branch under the first e-mail: "if clicked". */
function addClickBranchSteps() {
    return [
        {
            content: "Add a branch for those who click in the welcome e-mail",
            trigger: ".o_tm_tree > .o_tm_tree_node > .o_hierarchy_node_container .o_tm_add_mail_click",
            run: "click",
        },
        {
            content: "The dialog is preset: after Welcome, when clicked, within 3 days",
            trigger: ".modal .o_form_view div[name=summary]:contains(When a link of “Welcome” is clicked (within 3 days))",
        },
        {
            trigger: ".modal .o_form_view div[name=name] input",
            run: "edit Thanks for clicking",
        },
        {
            trigger: ".modal .o_form_view div[name=mail_subject] input",
            run: "edit Glad you liked it",
        },
        {
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
        {
            content: "The branch hangs under Welcome, labelled",
            trigger:
                ".o_tm_tree > .o_tm_tree_node > .o_tm_tree_children > .o_tm_tree_node:has(.o_tm_step_card:contains(Thanks for clicking)) .o_tm_branch_label:contains(Mail clicked)",
        },
    ];
}

/**
 * Build a scenario from scratch: its first step, then a branch under it.
 */
function createScenarioSteps() {
    return [
        {
            content: "Create a scenario",
            trigger: ".o_control_panel button.o-kanban-button-new",
            run: "click",
        },
        {
            content: "Name it",
            trigger: ".o_form_view .oe_title div[name=name] input",
            run: "edit Tour welcome",
        },
        {
            content: "Add its first step (the scenario is saved first)",
            trigger: ".o_tm_scenario_tree .o_tm_add_first_step",
            run: "click",
        },
        {
            content: "Name the step",
            trigger: ".modal .o_form_view div[name=name] input",
            run: "edit Welcome",
        },
        {
            content: "Write the subject of its e-mail (the message has a first draft)",
            trigger: ".modal .o_form_view div[name=mail_subject] input",
            run: "edit Welcome aboard",
        },
        {
            content: "Save the step",
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
        {
            content: "The step is in the tree, in plain language",
            trigger: ".o_tm_step_card:contains(Welcome):contains(send “Welcome aboard”)",
        },
    ];
}

function addBranchSteps() {
    return [
        {
            content: "Add a branch for those who do not open the welcome e-mail",
            trigger: ".o_tm_tree_node[data-step-id] .o_tm_step_card:contains(Welcome) .o_tm_add_mail_not_open",
            run: "click",
        },
        {
            content: "The dialog is preset: after Welcome, if not opened, 3 days",
            trigger: ".modal .o_form_view div[name=summary]:contains(3 days after “Welcome” if not opened)",
        },
        {
            trigger: ".modal .o_form_view div[name=name] input",
            run: "edit Reminder",
        },
        {
            trigger: ".modal .o_form_view div[name=mail_subject] input",
            run: "edit Did you see our welcome?",
        },
        {
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
        {
            content: "The branch hangs under Welcome, labelled",
            trigger:
                ".o_tm_tree_node:has(.o_tm_step_card:contains(Welcome)) .o_tm_tree_children .o_tm_branch_label:contains(Mail not opened)",
        },
        {
            trigger: ".o_tm_tree_children .o_tm_step_card:contains(Reminder)",
        },
    ];
}

function testRunSteps(scenarioName, branchName) {
    return [
        {
            content: "Test the scenario",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_open_test]",
            run: "click",
        },
        {
            content: "Pick a contact to test with",
            trigger: ".modal div[name=partner_ids] input",
            run: "edit Tour Contact",
        },
        {
            trigger: ".o-autocomplete--dropdown-menu a:contains(Tour Contact)",
            run: "click",
        },
        {
            trigger: ".modal div[name=partner_ids] .o_tag:contains(Tour Contact)",
        },
        {
            content: "Start the test",
            trigger: ".modal button[name=action_start_test]",
            run: "click",
        },
        {
            content: "The test walk opens, waiting for its first step",
            trigger: ".o_form_view .alert-warning:contains(Test run)",
        },
        {
            content: "Run the next step now, without waiting for the cron",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_run_next_step]",
            run: "click",
        },
        {
            content: "The welcome e-mail is done (sent to the test address)",
            trigger: ".o_form_view div[name=trace_ids] .o_data_row:contains(Welcome):contains(Done)",
        },
        {
            content: "and the 'not opened' branch waits",
            trigger: `.o_form_view div[name=trace_ids] .o_data_row:contains(${branchName}):contains(Scheduled)`,
        },
        {
            content: "Back to the scenario",
            trigger: `.o_breadcrumb .breadcrumb-item a:contains(${scenarioName})`,
            run: "click",
        },
    ];
}

function startAndStatisticsSteps(stepName) {
    return [
        {
            content: "Start the scenario",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_start]",
            run: "click",
        },
        {
            trigger: ".o_statusbar_status .o_arrow_button_current:contains(Running)",
        },
        {
            content: "Open its statistics",
            trigger: ".o_notebook .nav-link:contains(Statistics)",
            run: "click",
        },
        {
            content: "One line per step",
            trigger: ".o_tm_step_statistics .o_data_row:contains(Welcome)",
        },
        {
            trigger: `.o_tm_step_statistics .o_data_row:contains(${stepName})`,
        },
        {
            content: "The test walk is not counted",
            trigger: ".o_notebook .o_field_widget[name=participant_count]:contains(0)",
        },
    ];
}

registry.category("web_tour.tours").add("trigger_marketing_scenario_tour", {
    url: "/odoo/action-trigger_marketing.marketing_scenario_action",
    steps: () => [
        ...createFromTemplateSteps(),
        ...addClickBranchSteps(),
        ...testRunSteps("Welcome series", "Welcome reminder"),
        ...startAndStatisticsSteps("Thanks for clicking"),
    ],
});

registry.category("web_tour.tours").add("trigger_marketing_scratch_tour", {
    url: "/odoo/action-trigger_marketing.marketing_scenario_action",
    steps: () => [...createScenarioSteps(), ...addBranchSteps()],
});

registry.category("web_tour.tours").add("trigger_marketing_contact_tour", {
    steps: () => [
        {
            content: "Open the marketing tab of the contact",
            trigger: ".o_notebook .nav-link:contains(Marketing)",
            run: "click",
        },
        {
            content: "The timeline shows the scenario and its steps",
            trigger: ".o_tm_timeline_walk:contains(Tour series):contains(Running)",
        },
        {
            trigger: ".o_tm_timeline_step:contains(Points):not(.text-muted)",
        },
        {
            trigger: ".o_tm_timeline_step:contains(More points):contains(planned)",
        },
        {
            content: "The score and its history",
            trigger: "div[name=marketing_score]:contains(3)",
        },
        {
            trigger: "div[name=marketing_score_history_ids] .o_data_row:contains(Points):contains(Tour series)",
        },
        {
            content: "Open the scenario from the timeline",
            trigger: ".o_tm_timeline_scenario:contains(Tour series)",
            run: "click",
        },
        {
            content: "Its tree shows the step statistics",
            trigger: ".o_tm_step_card:contains(Points) .o_tm_card_stats span[title=Done]:contains(1)",
        },
    ],
});
