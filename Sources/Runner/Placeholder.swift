import Store
enum RunnerPlaceholder {}
