package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/gridedge/gridedge/shared/expression"
)

// runExprEval evaluates one measurement-transformation expression against a
// JSON context, as the FIWARE IoT agents would, and prints the result as
// JSON on stdout. Errors (syntax or evaluation) go to stderr with their byte
// position, e.g. "gridedge expr eval: expression: unexpected token ")" at
// position 4", and make the command exit 1. Other checks rely on this
// exact form.
func runExprEval(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "expr eval", "--expr EXPR [--context JSON]")
	src := fs.String("expr", "", "the expression, e.g. \"level / 100\" (required)")
	ctxJSON := fs.String("context", "{}", "the context as a JSON object, e.g. '{\"level\": 85.3}'")
	if err := parse(fs, args); err != nil {
		return err
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "expr" })
	if !given {
		fmt.Fprintln(env.Stderr, "--expr is required")
		fs.Usage()
		return errUsage
	}
	out, err := expression.EvalJSON(*src, []byte(*ctxJSON))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.Stdout, "%s\n", out)
	return err
}
