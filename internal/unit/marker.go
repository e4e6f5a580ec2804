package unit

// MainMarker is linked into every program built on runtime.Main, which
// prints it when run with the single argument --sole-main. sole's packager
// looks for it in a binary to tell that the program holds its own lock and
// runs itself as a service with the argument "run"; any other program is
// run under `sole run`. It lives here, and runtime.MainMarker is this
// constant, so that package packaging finds it without importing runtime.
const MainMarker = "sole runtime.Main v1: PROG run runs the service"
