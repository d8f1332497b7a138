// Package prophet is a native Go implementation of Prophet's additive
// time-series model (Taylor and Letham, "Forecasting at scale", 2017):
//
//	y(t) = g(t) · (1 + s_m(t)) + s_a(t) + ε
//
// where g is a piecewise-linear, logistic or flat trend with automatic
// changepoints under a Laplace prior, s_a and s_m are the additive and
// multiplicative sums of Fourier seasonalities, holiday indicators and extra
// regressors, and ε is Gaussian noise. The parameters are the maximum a
// posteriori estimate of Prophet's Stan model (the same priors, the same
// scaling of y and t), found with gonum's L-BFGS and an analytic gradient.
//
// Uncertainty intervals are simulated as Prophet does: future trend changes
// are drawn from a Poisson process with the fitted changepoint rate and
// Laplace-distributed magnitudes, and observation noise is added.
//
// A fitted [Model] serialises to JSON ([Model.MarshalJSON]) and reloads
// ([Load]); [LoadProphetJSON] reads a model serialised by Python Prophet's
// model_to_json.
package prophet
