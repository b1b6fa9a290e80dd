import { HierarchyRenderer } from "@web_hierarchy/hierarchy_renderer";
import { ScenarioStepHierarchyCard } from "./scenario_step_hierarchy_card";

/** A real tree: each step with its branches under it, side by side. */
export class ScenarioStepHierarchyRenderer extends HierarchyRenderer {
    static template = "trigger_marketing.ScenarioStepHierarchyRenderer";
    static components = {
        ...HierarchyRenderer.components,
        HierarchyCard: ScenarioStepHierarchyCard,
    };

    get rootNodes() {
        return this.props.model.root?.rootNodes || [];
    }

    /** The label of the branch that leads to ``node``: "Mail not opened", "Condition met"... */
    branchLabel(node) {
        const field = this.props.model.fields.trigger_type;
        const value = node.data.trigger_type;
        if (!field || !value || !node.parentNode) {
            return "";
        }
        const option = (field.selection || []).find(([key]) => key === value);
        return option ? option[1] : value;
    }

    branchClass(node) {
        const value = node.data.trigger_type || "after";
        if (["yes", "mail_open", "mail_click", "mail_reply"].includes(value)) {
            return "o_tm_branch_positive";
        }
        if (["no", "mail_not_open", "mail_not_click", "mail_not_reply", "mail_bounce"].includes(value)) {
            return "o_tm_branch_negative";
        }
        return "o_tm_branch_after";
    }
}
