import { EmbedBridge } from './frame.svelte';

let bridge: EmbedBridge | null = null;

/** The frame's one bridge to its host page, started on first use (client only). */
export function embedSession(board: string, tile?: string): EmbedBridge {
  if (!bridge) {
    bridge = new EmbedBridge(board, tile);
    bridge.start();
  }
  return bridge;
}
