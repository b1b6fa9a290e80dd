import { registry } from "@web/core/registry";

/**
 * Screens that say what is true and what will happen (issue 10, sections 3 and 4):
 * no conversion figure without a goal, the rule of a step in words, the per-step trend,
 * whole headers of the statistics table, the tooltips of Pause and Stop.
 */
registry.category("web_tour.tours").add("trigger_marketing_honest_screens_tour", {
    steps: () => [
        {
            content: "The scenario with a goal shows its conversion rate",
            trigger: ".o_kanban_record:contains(Tour with a goal) div[name=kpi_conversion_rate]",
        },
        {
            content: "The scenario without a goal shows none",
            trigger: ".o_kanban_record:contains(Tour without goal):not(:has(div[name=kpi_conversion_rate]))",
        },
        {
            content: "… but its click rate",
            trigger: ".o_kanban_record:contains(Tour without goal) div[name=kpi_click_rate]",
        },
        {
            trigger: ".o_kanban_record:contains(Tour without goal) div[name=kpis]",
            run: "click",
        },
        {
            content: "No goal reads as such, not as 'Match all records'",
            trigger: ".o_form_view div[name=no_goal]:contains(No goal)",
        },
        {
            trigger: ".o_form_view:not(:has(div[name=goal_domain]:visible))",
        },
        {
            trigger: ".o_form_view:not(:has(button[name=action_view_conversions]:visible))",
        },
        {
            content: "Pause says what happens to waiting contacts",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_pause]",
            run: "hover",
        },
        {
            trigger: ".o-tooltip:contains(Contacts waiting for a step stay where they are)",
        },
        {
            content: "Stop too",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_stop]",
            run: "hover",
        },
        {
            trigger: ".o-tooltip:contains(the steps contacts wait for are cancelled)",
        },
        {
            content: "The step tree: the rule in words, and the trend of the last 30 days",
            trigger: ".o_tm_step_card:contains(check: Country is United States)",
        },
        {
            trigger: ".o_tm_step_card:contains(Welcome) .o_tm_trend[data-sent='3'][data-opened='1'] canvas",
        },
        {
            content: "Statistics tab",
            trigger: ".o_notebook .nav-link:contains(Statistics)",
            run: "click",
        },
        {
            trigger: ".o_notebook .tab-pane.active:contains(No goal: no conversion is counted)",
        },
        {
            trigger: ".o_notebook .tab-pane.active:contains(Revenue per recipient):contains(Click rate)",
        },
        {
            content: "The trend of each step in the table",
            trigger: ".o_tm_step_statistics .o_data_row:contains(Welcome) .o_tm_trend[data-sent='3'] canvas",
        },
        {
            content: "Whole column headers",
            trigger: ".o_tm_step_statistics thead th:contains(Clicked %)",
            run() {
                const cut = [...document.querySelectorAll(".o_tm_step_statistics thead th")].filter(
                    (th) => th.textContent.trim() && th.scrollWidth > th.clientWidth + 1
                );
                if (cut.length) {
                    throw new Error(
                        `truncated headers: ${cut.map((th) => th.textContent.trim()).join(", ")}`
                    );
                }
            },
        },
        {
            content: "E-mail results: graph of the rates, filtered on this scenario",
            trigger: ".o_form_view button[name=action_view_mail_analysis]",
            run: "click",
        },
        {
            trigger: ".o_searchview .o_facet_values:contains(Tour without goal)",
        },
        {
            trigger: ".o_graph_renderer canvas",
        },
    ],
});

/** A scenario's e-mail in mass_mailing's designer: no Send, no Schedule. */
registry.category("web_tour.tours").add("trigger_marketing_designer_tour", {
    steps: () => [
        {
            trigger: ".o_form_view button[name=action_open_mailing]",
            run: "click",
        },
        {
            content: "The mailing form says the step sends it",
            trigger: ".o_form_view .o_tm_scenario_mailing_banner",
        },
        {
            trigger: ".o_form_view .o_statusbar_buttons:not(:has(button[name=action_launch])):not(:has(button[name=action_schedule]))",
        },
        {
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_test]",
        },
    ],
});

/** The ready-made birthday scenario: its audience reads well in the domain editor. */
registry.category("web_tour.tours").add("trigger_marketing_birthday_template_tour", {
    steps: () => [
        {
            trigger: ".o_main_navbar a:contains(New from a template)",
            run: "click",
        },
        {
            trigger: ".modal div[name=template] label:contains(Birthday)",
            run: "click",
        },
        {
            trigger: ".modal button[name=action_create]",
            run: "click",
        },
        {
            content: "The audience rule is readable: no invalid value",
            trigger: ".o_form_view div[name=domain] .o_tree_editor_condition",
        },
        {
            trigger: ".o_form_view div[name=domain]:not(:contains(Not a valid))",
        },
    ],
});
