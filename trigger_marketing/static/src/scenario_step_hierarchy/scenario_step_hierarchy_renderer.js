import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { HierarchyRenderer } from "@web_hierarchy/hierarchy_renderer";
import { ScenarioStepHierarchyCard } from "./scenario_step_hierarchy_card";

const POSITIVE = ["yes", "mail_open", "mail_click", "mail_reply"];
const NEGATIVE = ["no", "mail_not_open", "mail_not_click", "mail_not_reply", "mail_bounce"];

/** One step of the tree and, under it, its branches side by side (recursive). */
export class ScenarioStepTreeNode extends Component {
    static template = "trigger_marketing.ScenarioStepTreeNode";
    static components = { HierarchyCard: ScenarioStepHierarchyCard };
    static props = {
        node: Object,
        openRecord: Function,
        archInfo: Object,
    };

    /** The label of the branch that leads to this step: "Mail not opened", "Condition met"... */
    get branchLabel() {
        const { node } = this.props;
        const field = node.model.fields.trigger_type;
        const value = node.data.trigger_type;
        if (!field || !value || !node.parentNode) {
            return "";
        }
        if (value === "after") {
            return _t("Then");
        }
        const option = (field.selection || []).find(([key]) => key === value);
        return option ? option[1] : value;
    }

    get branchClass() {
        const value = this.props.node.data.trigger_type || "after";
        if (POSITIVE.includes(value)) {
            return "o_tm_branch_positive";
        }
        if (NEGATIVE.includes(value)) {
            return "o_tm_branch_negative";
        }
        return "o_tm_branch_after";
    }
}
ScenarioStepTreeNode.components.ScenarioStepTreeNode = ScenarioStepTreeNode;

/** A real tree: each step with its branches under it, side by side. */
export class ScenarioStepHierarchyRenderer extends HierarchyRenderer {
    static template = "trigger_marketing.ScenarioStepHierarchyRenderer";
    static components = {
        ...HierarchyRenderer.components,
        ScenarioStepTreeNode,
    };

    get rootNodes() {
        return this.props.model.root?.rootNodes || [];
    }
}
