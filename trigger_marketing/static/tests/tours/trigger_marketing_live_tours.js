import { registry } from "@web/core/registry";

/**
 * Live edits and versions (issue 10, sections 1 and 2): a change of a running scenario
 * shows the contacts it concerns and asks what happens to them before it is saved; two
 * versions are compared on screen.
 */
registry.category("web_tour.tours").add("trigger_marketing_live_edit_tour", {
    steps: () => [
        {
            content: "A step contacts wait for: no warning before a change",
            trigger: ".o_form_view div[name=delay] input",
        },
        {
            trigger: ".o_form_view:not(:has(.o_tm_live_preview:visible))",
        },
        {
            content: "Shorten its delay",
            trigger: ".o_form_view div[name=delay] input",
            run: "edit 1 && click body",
        },
        {
            content: "Before saving: how many contacts, and what the change does to them",
            trigger: ".o_tm_live_preview p:contains(5 contact):contains(wait for this step)",
        },
        {
            trigger: ".o_tm_live_preview:contains(3 of them would be due at once)",
        },
        {
            content: "A choice is asked",
            trigger: ".o_tm_live_preview div[name=live_timing_choice] label:contains(Keep their planned dates)",
        },
        {
            content: "Re-time them to the new delay",
            trigger: ".o_tm_live_preview div[name=live_timing_choice] label:contains(Re-time them to the new delay)",
            run: "click",
        },
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved: nothing more to say",
            trigger: ".o_form_view:not(:has(.o_form_button_save:visible)):not(:has(.o_tm_live_preview:visible))",
        },
    ],
});

registry.category("web_tour.tours").add("trigger_marketing_version_compare_tour", {
    steps: () => [
        {
            content: "The versions of the running scenario",
            trigger: ".o_form_view .o_notebook .nav-link[name=versions]",
            run: "click",
        },
        {
            trigger: ".o_notebook div[name=version_ids] .o_data_row:contains(Started)",
        },
        {
            content: "Compare the live change with the version before it",
            trigger: ".o_notebook div[name=version_ids] .o_data_row:contains(Step Later changed) button.o_tm_version_compare",
            run: "click",
        },
        {
            content: "Figures of both versions side by side",
            trigger: ".o_tm_version_comparison table.o_tm_version_figures th:contains(Version 1)",
        },
        {
            trigger: ".o_tm_version_comparison table.o_tm_version_figures th:contains(Version 2)",
        },
        {
            content: "What changed",
            trigger: ".o_tm_version_comparison .o_tm_version_changes li:contains(Step Later, Delay: 2 → 1)",
        },
        {
            content: "Who changed it",
            trigger: ".o_tm_version_comparison .o_tm_version_author:contains(Version 2, changed by Maria Marketer)",
        },
    ],
});

registry.category("web_tour.tours").add("trigger_marketing_live_designer_tour", {
    steps: () => [
        {
            content: "A live step's e-mail in the designer: who waits for it, before saving",
            trigger: ".o_tm_live_mailing_notice:contains(2 contact(s) wait for this e-mail):contains(Designer tour)",
        },
    ],
});
