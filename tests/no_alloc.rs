//! RUNTIME.md / issue #4: "no heap allocation per transition in the hot loop". A counting
//! allocator wraps the system one; a VM, its action buffer and a contact state are warmed on a
//! cohort, then the same cohort runs again and every allocation is counted.

use journey_vm::{Actions, ContactState, Vm};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_warm_vm_runs_the_examples_without_allocating() {
    let program = journey::examples().unwrap_or_else(|e| panic!("{e}"));
    let mut raw = Vec::new();
    journey_runtime::cohort_gen::generate(2000, 7, 60, &mut raw).unwrap_or_else(|e| panic!("{e}"));
    let until = journey_runtime::input::parse_instant("2026-03-02T00:00:00Z").unwrap_or(i64::MAX);
    let decoder = journey_runtime::input::Decoder::new(&program);
    let mut cohort = journey_runtime::Cohort::new(None, until);
    cohort.ingest(&decoder, "cohort", std::io::Cursor::new(raw)).unwrap_or_else(|e| panic!("{e}"));
    let inputs = cohort.into_inputs();

    let mut vm = Vm::new(&program);
    let mut out = Actions::new();
    let mut state = ContactState::new(&program);
    let mut run_all = |vm: &mut Vm| {
        let mut actions = 0;
        for (id, input) in &inputs {
            state.reset(&program);
            out.clear();
            vm.run_borrowing(id, &mut state, input, until, &mut out);
            actions += out.len();
        }
        actions
    };
    let warm = run_all(&mut vm);
    let transitions = vm.transitions();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let again = run_all(&mut vm);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(warm, again, "the second pass is the same work");
    assert!(transitions > 50_000, "the cohort exercises the journeys ({transitions} transitions)");
    assert_eq!(allocations, 0, "{allocations} allocations for {transitions} transitions and {again} actions");
}
