//! A local engine for the Amazon States Language: loads `statemachines/*.asl.json` and runs it
//! in-process, with the semantics of Step Functions for what viral's workflows use.

pub mod choice;
pub mod intrinsics;
pub mod model;
pub mod path;
pub mod template;

pub use model::{LoadError, Machine, load};
pub mod engine;

pub use engine::{
    Checkpoint, Engine, EventSink, Execution, Failure, MemoryTokens, Outcome, Resume, TaskCall,
    TaskRunner, TokenBook,
};
