import { HierarchyModel } from "@web_hierarchy/hierarchy_model";
import { orderByToString } from "@web/search/utils/order_by";

/**
 * The whole tree of a scenario, unfolded.
 *
 * web_hierarchy is made for org charts: it loads the roots and unfolds one branch at a
 * time. A scenario is small and its branches are read side by side ("if opened" next to
 * "if not opened"), so this model loads every step of the domain at once, builds the
 * complete tree and never folds a sibling.
 */
export class ScenarioStepHierarchyModel extends HierarchyModel {
    async _loadData(config) {
        const { records } = await this.orm.webSearchRead(this.resModel, config.domain || [], {
            specification: this._getFieldsSpec(config.context),
            context: this.context,
            order: orderByToString(config.orderBy || []) || "sequence, id",
        });
        return this._formatData(records);
    }

    _formatData(records) {
        const childField = this.childFieldName || this.defaultChildFieldName;
        const byId = new Map(records.map((record) => [record.id, record]));
        const roots = [];
        for (const record of records) {
            record[childField] = [];
        }
        for (const record of records) {
            const parentId = record[this.parentFieldName]?.id;
            const parent = parentId && byId.get(parentId);
            if (parent) {
                parent[childField].push(record);
            } else {
                roots.push(record);
            }
        }
        return roots;
    }

    /** Reload every step: a step may have been added anywhere in the tree. */
    async reload() {
        await this.load({});
    }

    _searchNodeToCollapse() {
        return null;
    }
}
