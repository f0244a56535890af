import type { PolicyState, ValidChange } from './policy-state.js';
import { liftDocument, notificationDocument, orderDocument } from './to-document.js';
import type { PolicyChange } from './validate-change.js';

/** A validated change back in `PolicyChange` form, as `state` (the snapshot it made) would read it. */
export function changeDocument(state: PolicyState, change: ValidChange): PolicyChange {
  switch (change.type) {
    case 'put-order':
      return { type: 'put-order', order: orderDocument(change.order) };
    case 'delete-order':
      return { type: 'delete-order', orderId: change.orderId };
    case 'notify': {
      const order = state.orders.find((candidate) => candidate.id === change.notification.orderId);
      return {
        type: 'notify',
        ...notificationDocument(change.notification, order?.includeSubdomains ?? false),
      };
    }
    case 'lift-host':
      return { type: 'lift-host', ...liftDocument(change.lift) };
  }
}
