import type { ClientInit } from '@sveltejs/kit';
import { captureUrlToken } from '$lib/embed/url-token';

/** Runs once before the router starts: a token in the URL is moved to memory first. */
export const init: ClientInit = () => {
  captureUrlToken();
};
