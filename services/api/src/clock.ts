/** Where every timestamp of the API comes from: injected, so that tests control expiry and windows. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
