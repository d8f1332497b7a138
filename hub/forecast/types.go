package forecast

import (
	"time"

	"github.com/gridedge/gridedge/hub/forecast/prophet"
)

// Statuses of a model (MODEL_DESCRIPTION.status).
const (
	StatusUntrained = "untrained"
	StatusTraining  = "training"
	StatusTrained   = "trained"
	StatusError     = "error"
)

// ModelParams is the seed's MODEL_PARAMS: a name and the default input
// stages. Options (a GridEdge addition) tune the Prophet model.
type ModelParams struct {
	// Name is free text.
	Name string `json:"name"`
	// Input are the default input stages of training.
	Input []InputStage `json:"input,omitempty"`
	// Options are the model's settings (Prophet's defaults when absent).
	Options *prophet.Options `json:"options,omitempty"`
}

// ModelDescription is the seed's MODEL_DESCRIPTION.
type ModelDescription struct {
	// ID identifies the model in further calls.
	ID string `json:"id"`
	// Config is the MODEL_PARAMS the model was created with.
	Config ModelParams `json:"config"`
	// Regressors are the extra columns of the last training.
	Regressors []string `json:"regressors"`
	// Status is untrained, training, trained or error.
	Status string `json:"status"`
	// LastDataTimestamp is the last ds of the training set (trained models).
	LastDataTimestamp *time.Time `json:"lastDataTimestamp,omitempty"`
	// Error says why the last training failed (status error).
	Error string `json:"error,omitempty"`
	// Progress tells what the current or last training is doing
	// (queued, loading input, fitting, done).
	Progress string `json:"progress,omitempty"`
	// Rows is the number of rows of the last training set.
	Rows int `json:"rows,omitempty"`
	// TrainedAt is when the last training finished.
	TrainedAt *time.Time `json:"trainedAt,omitempty"`
}

// ModelConfirmation is the seed's MODEL_CONFIRMATION, the NATS reply of
// delete, train and forecast.
type ModelConfirmation struct {
	// ID is the model's id.
	ID string `json:"id"`
	// Status is "ok" or "error".
	Status string `json:"status"`
	// Message explains an error.
	Message string `json:"message,omitempty"`
}

// TrainParams is the seed's TRAIN_PARAMS: input stages replacing the
// model's defaults.
type TrainParams struct {
	// Input overrides MODEL_PARAMS.input when set.
	Input []InputStage `json:"input,omitempty"`
}

// ForecastParams is the seed's FORECAST_PARAMS.
type ForecastParams struct {
	// Periods is the number of steps after lastDataTimestamp.
	Periods int `json:"periods"`
	// Freq is the step, a pandas alias (H, D, W, M, 15min…).
	Freq string `json:"freq"`
	// Input provides the regressors' future values.
	Input []InputStage `json:"input,omitempty"`
}

// ForecastRow is one element of the seed's FORECAST_RESULT.
type ForecastRow struct {
	DS        time.Time `json:"ds"`
	Yhat      float64   `json:"yhat"`
	YhatLower float64   `json:"yhat_lower"`
	YhatUpper float64   `json:"yhat_upper"`
}
