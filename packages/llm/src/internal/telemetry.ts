/**
 * The GenAI telemetry of model calls, applied once in `LanguageModel.make`.
 *
 * @internal
 */
import type { Effect, Stream } from "effect"
import type { ModelError } from "../Errors.js"
import type { Request, Response, StreamEvent } from "../LanguageModel.js"

export const instrumentGenerate = (
  _provider: string,
  _model: string,
  _request: Request,
  self: Effect.Effect<Response, ModelError>
): Effect.Effect<Response, ModelError> => self

export const instrumentStream = (
  _provider: string,
  _model: string,
  _request: Request,
  self: Stream.Stream<StreamEvent, ModelError>
): Stream.Stream<StreamEvent, ModelError> => self
