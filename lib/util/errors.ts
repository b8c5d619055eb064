// Errors of the TypeScript layer, built like the native core's (native/node/errors.cpp): the same
// class for the same kind of mistake and the same `code` (a dc_status name), so a caller can
// branch on `code` whichever layer caught the mistake.
export type ErrorCode =
  | 'DC_ERR_INVALID_ARGUMENT'
  | 'DC_ERR_DTYPE'
  | 'DC_ERR_SHAPE'
  | 'DC_ERR_RANGE'
  | 'DC_ERR_OUT_OF_MEMORY'
  | 'DC_ERR_UNAVAILABLE'
  | 'DC_ERR_DEVICE'
  | 'DC_ERR_INTERNAL';

export type CodedError<E extends Error = Error> = E & { code: ErrorCode };

function coded<E extends Error>(e: E, code: ErrorCode): CodedError<E> {
  return Object.assign(e, { code });
}

/** A bad argument value or type (TypeError, DC_ERR_INVALID_ARGUMENT). */
export const argumentError = (message: string) => coded(new TypeError(message), 'DC_ERR_INVALID_ARGUMENT');
/** An unsupported or mismatched dtype (TypeError, DC_ERR_DTYPE). */
export const dtypeError = (message: string) => coded(new TypeError(message), 'DC_ERR_DTYPE');
/** A mismatched or invalid shape (RangeError, DC_ERR_SHAPE). */
export const shapeError = (message: string) => coded(new RangeError(message), 'DC_ERR_SHAPE');
/** A number or size out of its range (RangeError, DC_ERR_RANGE). */
export const rangeError = (message: string) => coded(new RangeError(message), 'DC_ERR_RANGE');
/** Tensors on different devices (Error, DC_ERR_DEVICE). */
export const deviceError = (message: string) => coded(new Error(message), 'DC_ERR_DEVICE');
/** A backend that cannot run here (Error, DC_ERR_UNAVAILABLE). */
export const unavailableError = (message: string) => coded(new Error(message), 'DC_ERR_UNAVAILABLE');
