import { EVENT_METHOD, type Event, type Topic } from '../../protocol/index.js';
import type { Connection } from './rpc/server.js';

const TOPICS = 'topics';

/** Fans events out to the connections that subscribed to their topic. Nothing is queued for absent clients. */
export class EventHub {
  private readonly subscribers = new Set<Connection>();

  subscribe(conn: Connection, topics: Topic[]): Topic[] {
    const set = new Set(topics);
    conn.data.set(TOPICS, set);
    this.subscribers.add(conn);
    return [...set];
  }

  publish(event: Event): void {
    for (const conn of this.subscribers) {
      if (conn.closed) {
        this.subscribers.delete(conn);
        continue;
      }
      const topics = conn.data.get(TOPICS) as Set<Topic> | undefined;
      if (topics?.has(event.topic)) conn.notify(EVENT_METHOD, event);
    }
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }
}
