//! Label and field selectors, parsed and applied the way kube-apiserver does for
//! `?labelSelector=` and `?fieldSelector=` on list and watch, and for the `metav1.LabelSelector`
//! objects workload controllers and PodDisruptionBudgets carry. Parse errors are the exact
//! messages the real server answers 400 BadRequest with; callers wrap them in their status.

mod field_table;
mod fields;
mod labels;
mod validation;

pub use fields::{FieldSelector, FieldTerm, escape_value};
pub use labels::{LabelSelector, Operator, Requirement};
pub use validation::{go_quote, label_key_errors, label_value_errors};
