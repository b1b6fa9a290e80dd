import { Component, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { View } from "@web/views/view";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";

/**
 * The step tree of a scenario, inside the scenario form.
 *
 * Mounts the ``hierarchy`` view of ``marketing.scenario.step`` (our
 * ``marketing_scenario_step_hierarchy`` js_class) for the steps of this scenario. Steps
 * open and are added in dialogs, so the marketer never leaves the scenario. The buttons of
 * the cards ("+ if opened"...) are object buttons of the hierarchy arch: other modules add
 * theirs by inheriting that view.
 */
export class ScenarioTree extends Component {
    static template = "trigger_marketing.ScenarioTree";
    static components = { View };
    static props = { ...standardWidgetProps };

    setup() {
        this.action = useService("action");
        this.orm = useService("orm");
        this.state = useState({ key: 1 });
        this._viewProps = null;
        this._viewPropsResId = null;
    }

    /** The props of the embedded view, the same object as long as the scenario is the same
     * (the record is saved in place: its resId changes on the same object). */
    get viewProps() {
        const resId = this.props.record.resId;
        if (!this._viewProps || resId !== this._viewPropsResId) {
            this._viewProps = this.makeViewProps(resId);
            this._viewPropsResId = resId;
        }
        return this._viewProps;
    }

    makeViewProps(resId) {
        return {
            resModel: "marketing.scenario.step",
            type: "hierarchy",
            views: [
                [false, "hierarchy"],
                [false, "search"],
            ],
            domain: [["scenario_id", "=", resId || 0]],
            context: { default_scenario_id: resId },
            display: { controlPanel: false },
            className: "o_tm_embedded_tree",
            selectRecord: (stepId) => this.openStep(stepId),
            createRecord: () => this.addFirstStep(),
        };
    }

    get isNew() {
        return !this.props.record.resId;
    }

    async ensureSaved() {
        const record = this.props.record;
        if (record.isNew || record.dirty) {
            return await record.save();
        }
        return true;
    }

    async refresh() {
        if (!this.props.record.dirty) {
            await this.props.record.load();
        }
        this.state.key++;
    }

    async openStep(stepId) {
        await this.action.doAction(
            {
                type: "ir.actions.act_window",
                name: _t("Step"),
                res_model: "marketing.scenario.step",
                res_id: stepId,
                views: [[false, "form"]],
                target: "new",
                context: { default_scenario_id: this.props.record.resId },
            },
            { onClose: () => this.refresh() }
        );
    }

    async addFirstStep() {
        if (!(await this.ensureSaved())) {
            return;
        }
        const action = await this.orm.call("marketing.scenario", "action_add_step", [
            [this.props.record.resId],
        ]);
        await this.action.doAction(action, { onClose: () => this.refresh() });
    }
}

export const scenarioTree = {
    component: ScenarioTree,
};

registry.category("view_widgets").add("marketing_scenario_tree", scenarioTree);
