import { randomUUID } from 'node:crypto';
import { captureMessages, eventually, sleep, startTestIssuer, type TestIssuer } from '@guitaronline/testing';
import { start } from '../src/main';
import { PgDeliveryStore } from '../src/data/delivery-repository';
import type { ClaimedEmail } from '../src/domain/delivery';
import { bookingConfirmed, freshDatabase, makeEvent, manualClock, registered, setup, type Fixture, type TestDatabase } from './harness';

jest.setTimeout(60_000);

let issuer: TestIssuer;
let database: TestDatabase;
beforeAll(async () => {
  issuer = await startTestIssuer();
  database = await freshDatabase();
});
afterAll(async () => {
  await issuer.close();
  await database?.drop();
});

let fx: Fixture;
afterEach(async () => {
  await fx?.cleanup();
});

async function getJson(path: string, token: string) {
  const res = await fetch(`${fx.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as any };
}

async function deliveryOf(email: string) {
  return fx.db('deliveries as d').join('notifications as n', 'n.id', 'd.notification_id').where('n.email', email).first('d.*', 'n.id as notification_id');
}

/** A claimed e-mail with no row behind it: its marks find nothing to change. */
function fakeClaimedEmail(): ClaimedEmail {
  return {
    channel: 'email',
    id: randomUUID(),
    claimToken: randomUUID(),
    attempts: 0,
    eventId: randomUUID(),
    eventType: 'lesson.created',
    occurredAt: new Date().toISOString(),
    correlationId: null,
    notificationId: randomUUID(),
    userId: randomUUID(),
    to: 'nobody@example.test',
    subject: 's',
    text: 'b',
  };
}

describe('e-mail notifications', () => {
  test('when booking.confirmed arrives (twice) after both registrations, then student and teacher each get exactly one e-mail', async () => {
    fx = await setup(issuer, database);
    const capture = await captureMessages(fx.bus.EVENTS_EXCHANGE, 'notification.*');
    try {
      const student = registered('student');
      const teacher = registered('teacher');
      await fx.publisher.publish(student, teacher);
      await eventually(async () => (await fx.db('recipients').count<{ n: string }[]>('* as n'))[0].n === '2');
      const confirmed = bookingConfirmed(student.payload.userId, teacher.payload.userId);
      await fx.publisher.publish(confirmed, confirmed);

      const studentMail = student.payload.email;
      const teacherMail = teacher.payload.email;
      await eventually(() => fx.smtp.to(studentMail).length === 1 && fx.smtp.to(teacherMail).length === 1);
      // a third copy of the same event, and time for any duplicate to show up
      await fx.publisher.publish(confirmed);
      await sleep(500);
      expect(fx.smtp.to(studentMail)).toHaveLength(1);
      expect(fx.smtp.to(teacherMail)).toHaveLength(1);
      expect(fx.smtp.state.received).toHaveLength(2);

      const rows = await fx.db('notifications').where({ event_id: confirmed.id }).select('id', 'user_id', 'email');
      expect(rows).toHaveLength(2);
      const mail = fx.smtp.to(studentMail)[0];
      const studentRow = rows.find((r) => r.user_id === student.payload.userId)!;
      expect(mail.messageId).toBe(`<${studentRow.id}@notifications.guitaronline>`);
      expect(mail.subject).toContain('lesson booked');
      expect(mail.raw).toContain('Hello Test student');

      // each sent notification records notification.sent, continuing the event's trace
      await eventually(() => capture.ofType('notification.sent').length === 2);
      const sent = capture.ofType('notification.sent');
      expect(sent.map((e) => e.payload.userId).sort()).toEqual([student.payload.userId, teacher.payload.userId].sort());
      expect(sent.every((e) => e.correlationId === confirmed.correlationId && e.causationId === confirmed.id)).toBe(true);
      expect(sent.every((e) => e.payload.attempts === 1 && e.payload.channel === 'email')).toBe(true);

      const mine = await getJson('/api/v1/notifications/my', issuer.token({ sub: student.payload.userId, role: 'student' }));
      expect(mine.status).toBe(200);
      expect(mine.body.items).toEqual([
        expect.objectContaining({ id: studentRow.id, type: 'booking.confirmed', channel: 'email', status: 'sent', attempts: 1, sentAt: expect.any(String), createdAt: expect.any(String) }),
      ]);
      expect(mine.body.nextCursor).toBeNull();
    } finally {
      await capture.close();
    }
  });

  test('when an event names a user whose registration has not arrived, then the notification waits without an address and is sent once the user is known', async () => {
    fx = await setup(issuer, database);
    const student = registered('student');
    const teacher = registered('teacher');
    const confirmed = bookingConfirmed(student.payload.userId, teacher.payload.userId);
    await fx.publisher.publish(confirmed);
    await eventually(async () => (await fx.db('notifications').where({ event_id: confirmed.id })).length === 2);
    const admin = issuer.token({ role: 'admin' });
    const metrics = await getJson('/api/v1/notifications/delivery/metrics', admin);
    expect(metrics.body.deliveries.awaitingRecipient).toBe(2);
    expect(metrics.body.notifications).toEqual({ pending: 2, sent: 0, failed: 0, total: 2 });
    const waiting = await getJson('/api/v1/notifications/my', issuer.token({ sub: student.payload.userId, role: 'student' }));
    expect(waiting.body.items).toEqual([expect.objectContaining({ status: 'pending', attempts: 0, sentAt: null })]);
    await sleep(200);
    expect(fx.smtp.state.attempts).toHaveLength(0); // nothing was attempted without an address

    await fx.publisher.publish(student);
    await eventually(() => fx.smtp.to(student.payload.email).length === 1);
    const teacherDelivery = await fx.db('deliveries as d')
      .join('notifications as n', 'n.id', 'd.notification_id')
      .where({ 'n.user_id': teacher.payload.userId })
      .first('d.status', 'd.attempts', 'd.next_attempt_at');
    expect(teacherDelivery).toEqual({ status: 'pending', attempts: 0, next_attempt_at: null });

    await fx.publisher.publish(teacher);
    await eventually(() => fx.smtp.to(teacher.payload.email).length === 1);
    await sleep(200);
    expect(fx.smtp.state.received).toHaveLength(2);
  });

  test('when events and their recipients\' registrations arrive in one batch, in any order and twice, then every e-mail goes out once to its address', async () => {
    // a long linger: everything published below is handled in one consumer transaction
    fx = await setup(issuer, database, { NOTIFY_CONSUMER_LINGER_MS: '400' });
    const student = registered('student');
    const teacher = registered('teacher');
    const confirmed = bookingConfirmed(student.payload.userId, teacher.payload.userId);
    const created = makeEvent('lesson.created', { lessonId: randomUUID(), bookingId: confirmed.payload.bookingId, studentId: student.payload.userId, teacherId: teacher.payload.userId, startAt: confirmed.payload.startAt });
    let inboxWrites = 0;
    const countInboxWrites = (q: { sql: string }) => {
      if (/^insert into "inbox"/i.test(q.sql)) inboxWrites += 1;
    };
    fx.service!.db.on('query', countInboxWrites);
    await fx.publisher.publish(confirmed, student, created, confirmed, teacher);

    await eventually(() => fx.smtp.state.received.length === 4);
    await sleep(500);
    fx.service!.db.off('query', countInboxWrites);
    expect(fx.smtp.to(student.payload.email)).toHaveLength(2);
    expect(fx.smtp.to(teacher.payload.email)).toHaveLength(2);
    expect(fx.smtp.state.received).toHaveLength(4);
    const waiting = await fx.db('notifications').whereNull('email');
    expect(waiting).toEqual([]);
    // the five messages were one batch: one inbox write, one transaction
    expect(inboxWrites).toBe(1);
  });

  test('when the SMTP server refuses for a while, then retries come at growing delays and the mail is delivered once it accepts', async () => {
    fx = await setup(issuer, database, { NOTIFY_BACKOFF_BASE_MS: '40' });
    const student = registered('student');
    await fx.publisher.publish(student);
    await eventually(async () => (await fx.db('recipients')).length === 1);
    fx.smtp.state.refuse = 4; // 451 to the next four DATA commands
    const credited = makeEvent('billing.lesson.credited', { bookingId: randomUUID(), packageId: randomUUID(), studentId: student.payload.userId, lessonsLeft: 3 });
    await fx.publisher.publish(credited);

    await eventually(() => fx.smtp.to(student.payload.email).length === 1, { timeoutMs: 15_000 });
    await eventually(async () => (await deliveryOf(student.payload.email)).status === 'sent'); // marked right after the 250
    const delivery = await deliveryOf(student.payload.email);
    expect(delivery).toMatchObject({ status: 'sent', attempts: 5, last_error: null });
    const attempts = await fx.db('delivery_attempts').where({ delivery_id: delivery.id }).orderBy('attempt');
    expect(attempts.map((a) => a.outcome)).toEqual(['failed', 'failed', 'failed', 'failed', 'sent']);
    expect(attempts[0].error).toContain('451');
    // the scheduled delay after each failure grows (exponential with equal jitter never shrinks)
    const delays = attempts.slice(0, 4).map((a) => a.next_attempt_at.getTime() - a.attempted_at.getTime());
    for (let i = 1; i < delays.length; i += 1) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1]);
    expect(delays[3]).toBeGreaterThan(delays[0] * 2);
    expect(delays[0]).toBeGreaterThanOrEqual(20);
    expect(delays[0]).toBeLessThanOrEqual(40);
    // and the server saw the attempts no sooner than scheduled
    const seen = fx.smtp.attemptsTo(student.payload.email);
    expect(seen.map((a) => a.accepted)).toEqual([false, false, false, false, true]);
    for (let i = 1; i < seen.length; i += 1) expect(seen[i].at - seen[i - 1].at).toBeGreaterThanOrEqual(delays[i - 1] - 5);
  });

  test('when the SMTP server refuses for good, then the delivery is dead-lettered after NOTIFY_MAX_ATTEMPTS and counted', async () => {
    fx = await setup(issuer, database, { NOTIFY_MAX_ATTEMPTS: '3' });
    const capture = await captureMessages(fx.bus.EVENTS_EXCHANGE, 'notification.*');
    try {
      const student = registered('student');
      await fx.publisher.publish(student);
      await eventually(async () => (await fx.db('recipients')).length === 1);
      fx.smtp.state.refuse = true;
      const created = makeEvent('billing.package.created', {
        packageId: randomUUID(),
        studentId: student.payload.userId,
        lessonsTotal: 10,
        lessonsLeft: 10,
        expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      });
      await fx.publisher.publish(created);

      await eventually(async () => (await deliveryOf(student.payload.email))?.status === 'dead', { timeoutMs: 15_000 });
      await sleep(300); // nothing more is tried after the last attempt
      expect(fx.smtp.attemptsTo(student.payload.email)).toHaveLength(3);
      const delivery = await deliveryOf(student.payload.email);
      expect(delivery).toMatchObject({ attempts: 3, next_attempt_at: null });
      expect(delivery.last_error).toContain('451');

      const admin = issuer.token({ role: 'admin' });
      const metrics = await getJson('/api/v1/notifications/delivery/metrics', admin);
      expect(metrics.status).toBe(200);
      expect(metrics.body.deliveries).toMatchObject({ deadLettered: 1, retrying: 0 });
      expect(metrics.body.notifications).toEqual({ pending: 0, sent: 0, failed: 1, total: 1 });
      expect(metrics.body.byChannel.email).toMatchObject({ failed: 1, deadLettered: 1, total: 1 });
      expect(metrics.body.byChannel.webhook).toMatchObject({ total: 0 });
      const ops = await getJson('/internal/ops', admin);
      expect(ops.body).toEqual({ outbox: { pending: expect.any(Number), oldestPendingSeconds: expect.any(Number) }, failedNotifications: 1 });

      const prom = await (await fetch(`${fx.url}/metrics`)).text();
      expect(prom).toMatch(/deliveries_dead_total\{[^}]*channel="email"[^}]*\} 1/);
      expect(prom).toMatch(/notifications_failed_total\{[^}]*channel="email"[^}]*\} 3/);

      await eventually(() => capture.ofType('notification.failed').length === 1);
      expect(capture.ofType('notification.failed')[0].payload).toMatchObject({ userId: student.payload.userId, attempts: 3, channel: 'email' });
      const mine = await getJson('/api/v1/notifications/my', issuer.token({ sub: student.payload.userId, role: 'student' }));
      expect(mine.body.items[0]).toMatchObject({ status: 'failed', attempts: 3, sentAt: null });
    } finally {
      await capture.close();
    }
  });

  test('when the service is stopped mid-retry and started again, then each mail is delivered once and nothing is duplicated', async () => {
    fx = await setup(issuer, database, { NOTIFY_BACKOFF_BASE_MS: '300' });
    const student = registered('student');
    const teacher = registered('teacher');
    await fx.publisher.publish(student, teacher);
    await eventually(async () => (await fx.db('recipients')).length === 2);
    fx.smtp.state.refuse = true;
    const confirmed = bookingConfirmed(student.payload.userId, teacher.payload.userId);
    await fx.publisher.publish(confirmed);
    await eventually(async () => {
      const rows = await fx.db('deliveries').where({ event_id: confirmed.id });
      return rows.length === 2 && rows.every((r) => r.status === 'failed' && r.attempts >= 1);
    });

    await fx.service!.stop();
    const afterStop = await fx.db('deliveries').where({ event_id: confirmed.id }).select('status', 'claim_token');
    expect(afterStop.every((r) => r.status === 'failed' && r.claim_token === null)).toBe(true); // nothing left claimed
    fx.smtp.state.refuse = false;
    await fx.publisher.publish(confirmed); // redelivered while the service is down

    await fx.startService();
    await eventually(() => fx.smtp.to(student.payload.email).length === 1 && fx.smtp.to(teacher.payload.email).length === 1, { timeoutMs: 15_000 });
    await sleep(500);
    expect(fx.smtp.state.received).toHaveLength(2);
    const rows = await fx.db('deliveries').where({ event_id: confirmed.id });
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.status === 'sent')).toBe(true);
    expect(await fx.db('notifications').where({ event_id: confirmed.id })).toHaveLength(2);
  });

  test('when the SMTP relay keeps failing, then its breaker opens and postpones deliveries without spending their attempts', async () => {
    fx = await setup(issuer, database, { NOTIFY_BREAKER_VOLUME_THRESHOLD: '2', NOTIFY_BREAKER_ERROR_PERCENT: '50', NOTIFY_BREAKER_RESET_MS: '1500', NOTIFY_BACKOFF_BASE_MS: '20' });
    const students = [registered('student'), registered('student'), registered('student'), registered('student')];
    await fx.publisher.publish(...students);
    await eventually(async () => (await fx.db('recipients')).length === 4);
    fx.smtp.state.refuse = true;
    await fx.publisher.publish(
      ...students.map((s) =>
        makeEvent('billing.package.depleted', {
          packageId: randomUUID(),
          studentId: s.payload.userId,
          lessonsTotal: 5,
          lessonsLeft: 0,
          expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
        }),
      ),
    );
    await eventually(async () => (await fx.db('deliveries').where('last_error', 'like', '%circuit is open%')).length > 0);
    // the half-open trial that let the others be postponed fails and opens the breaker again
    const [{ at: postponedAt }] = await fx.db('deliveries').where('last_error', 'like', '%circuit is open%').min('updated_at as at');
    await eventually(async () => (await fx.db('delivery_attempts').where('attempted_at', '>', postponedAt)).length === 1);
    const attemptsWhileOpen = fx.smtp.state.attempts.length;
    await sleep(500); // still inside the reset window: nothing reaches the relay
    expect(fx.smtp.state.attempts.length).toBe(attemptsWhileOpen);
    const rows = await fx.db('deliveries').select('status', 'attempts');
    expect(rows.every((r) => r.status !== 'dead')).toBe(true);
    // postponed deliveries spent no attempt; after the reset the half-open trial succeeds and the rest follow
    fx.smtp.state.refuse = false;
    await eventually(() => students.every((s) => fx.smtp.to(s.payload.email).length === 1), { timeoutMs: 15_000 });
    await eventually(async () => (await fx.db('deliveries').where({ status: 'sent' })).length === 4);
    const total = await fx.db('delivery_attempts').count<{ n: string }[]>('* as n');
    expect(Number(total[0].n)).toBe(fx.smtp.state.attempts.length);
    const prom = await (await fetch(`${fx.url}/metrics`)).text();
    expect(prom).toMatch(/notifications_postponed_total\{[^}]*channel="email"[^}]*\} [1-9]/);
  });

  test('when the clock has not reached a retry time, then nothing is resent; once it has, the mail goes out', async () => {
    const time = manualClock();
    fx = await setup(issuer, database, { NOTIFY_BACKOFF_BASE_MS: '60000', NOTIFY_BACKOFF_MAX_MS: '600000' }, { clock: time.clock, random: () => 1 });
    const student = registered('student');
    await fx.publisher.publish(student);
    await eventually(async () => (await fx.db('recipients')).length === 1);
    fx.smtp.state.refuse = 1;
    await fx.publisher.publish(makeEvent('billing.package.expired', { packageId: randomUUID(), studentId: student.payload.userId, lessonsTotal: 4, lessonsLeft: 1, expiresAt: new Date().toISOString() }));
    await eventually(async () => (await deliveryOf(student.payload.email))?.status === 'failed');
    const failed = await deliveryOf(student.payload.email);
    expect(failed.next_attempt_at.getTime() - time.clock().getTime()).toBe(60_000); // base delay, jitter pinned at its top

    await sleep(400); // real time passes, the service's clock does not
    expect(fx.smtp.attemptsTo(student.payload.email)).toHaveLength(1);
    time.advance(59_999);
    await sleep(300);
    expect(fx.smtp.attemptsTo(student.payload.email)).toHaveLength(1);
    time.advance(1);
    await eventually(() => fx.smtp.to(student.payload.email).length === 1);
    await eventually(async () => (await deliveryOf(student.payload.email))?.status === 'sent');
  });

  test('when an event makes e-mails, then they are made claimed in the same write and go out on commit, without a scan claiming them', async () => {
    const claimDue = jest.spyOn(PgDeliveryStore.prototype, 'claimDue');
    try {
      fx = await setup(issuer, database);
      const student = registered('student');
      const teacher = registered('teacher');
      await fx.publisher.publish(student, teacher);
      await eventually(async () => (await fx.db('recipients')).length === 2);
      const scansBefore = claimDue.mock.results.length;
      const confirmed = bookingConfirmed(student.payload.userId, teacher.payload.userId);
      await fx.publisher.publish(confirmed);
      await eventually(() => fx.smtp.to(student.payload.email).length === 1 && fx.smtp.to(teacher.payload.email).length === 1);
      await eventually(async () => (await fx.db('deliveries').where({ event_id: confirmed.id, status: 'sent' })).length === 2);
      // whatever scans ran meanwhile claimed nothing: the consumer's write had claimed both
      const scanned = await Promise.all(claimDue.mock.results.slice(scansBefore).map((r) => r.value as Promise<unknown[]>));
      expect(scanned.flat()).toEqual([]);
      const rows = await fx.db('deliveries').where({ event_id: confirmed.id });
      expect(rows.map((r) => [r.attempts, r.claim_token])).toEqual([
        [1, null],
        [1, null],
      ]);
    } finally {
      claimDue.mockRestore();
    }
  });

  test('when the worker has handed over more sends than a few scans hold, or is stopped, then new e-mails are made pending for the scans', async () => {
    fx = await setup(issuer, database, { NOTIFY_WORKER_BATCH: '1' });
    const worker = fx.service!.worker;
    expect(worker.claimAtInsert()).toEqual({ leaseUntil: expect.any(Date) });
    // ten scans of one: asked before any of the ten handed over has finished
    worker.deliverClaimed(Array.from({ length: 10 }, fakeClaimedEmail));
    expect(worker.claimAtInsert()).toBeNull();
    await fx.service!.stop();
    expect(worker.claimAtInsert()).toBeNull();
  });

  test('when a worker died mid-send, then its claimed row is left alone until the lease runs out and is then sent once', async () => {
    const time = manualClock();
    fx = await setup(issuer, database, { NOTIFY_SEND_LEASE_MS: '120000' }, { clock: time.clock });
    const student = registered('student');
    await fx.publisher.publish(student);
    await eventually(async () => (await fx.db('recipients')).length === 1);
    fx.smtp.state.refuse = true;
    await fx.publisher.publish(makeEvent('lesson.created', { lessonId: randomUUID(), bookingId: randomUUID(), studentId: student.payload.userId, teacherId: randomUUID(), startAt: new Date().toISOString() }));
    await eventually(async () => (await deliveryOf(student.payload.email))?.status === 'failed');
    await fx.service!.stop();
    // what a crash between claim and mark leaves behind: a claimed row with a running lease
    const { id } = await deliveryOf(student.payload.email);
    await fx.db('deliveries').where({ id }).update({ status: 'sending', claim_token: randomUUID(), next_attempt_at: new Date(time.clock().getTime() + 120_000) });
    fx.smtp.state.refuse = false;

    await fx.startService({}, { clock: time.clock });
    await sleep(400);
    expect(fx.smtp.to(student.payload.email)).toHaveLength(0); // another worker might still be sending it
    time.advance(120_001);
    await eventually(() => fx.smtp.to(student.payload.email).length === 1);
    await eventually(async () => (await deliveryOf(student.payload.email))?.status === 'sent');
    await sleep(300);
    expect(fx.smtp.to(student.payload.email)).toHaveLength(1);
    expect((await deliveryOf(student.payload.email)).attempts).toBe(2);
  });

  test('when settled notifications are older than the retention, then the purge removes them and keeps everything unsettled', async () => {
    const time = manualClock();
    fx = await setup(issuer, database, { NOTIFY_RETENTION_DAYS: '90' }, { clock: time.clock });
    const student = registered('student');
    await fx.publisher.publish(student);
    await eventually(async () => (await fx.db('recipients')).length === 1);
    const sentEvent = makeEvent('billing.package.created', { packageId: randomUUID(), studentId: student.payload.userId, lessonsTotal: 2, lessonsLeft: 2, expiresAt: new Date().toISOString() });
    const waitingEvent = makeEvent('billing.package.created', { packageId: randomUUID(), studentId: randomUUID(), lessonsTotal: 2, lessonsLeft: 2, expiresAt: new Date().toISOString() });
    await fx.publisher.publish(sentEvent, waitingEvent);
    await eventually(async () => (await deliveryOf(student.payload.email))?.status === 'sent');
    await eventually(async () => (await fx.db('notifications').where({ event_id: waitingEvent.id })).length === 1);

    time.advance(89 * 86_400_000);
    expect((await fx.service!.purge()).notifications).toBe(0);
    time.advance(2 * 86_400_000);
    expect(await fx.service!.purge()).toEqual({ notifications: 1, webhookDeliveries: 0, subscriptions: 0 });
    expect((await fx.db('notifications')).map((n) => n.event_id)).toEqual([waitingEvent.id]);
    expect(await fx.db('deliveries')).toHaveLength(1);
    expect(await fx.db('delivery_attempts')).toHaveLength(0);
  });

  test('when two replicas share the schedule and the queue, then every e-mail is sent exactly once', async () => {
    fx = await setup(issuer, database, { NOTIFY_WORKER_BATCH: '3' });
    const replica = await start(fx.env);
    try {
      const teacher = registered('teacher');
      const students = Array.from({ length: 15 }, () => registered('student'));
      await fx.publisher.publish(teacher, ...students);
      await eventually(async () => (await fx.db('recipients')).length === 16);
      // a flaky relay makes deliveries go round several times, across both workers
      fx.smtp.state.refuse = 10;
      await fx.publisher.publish(...students.map((s) => bookingConfirmed(s.payload.userId, teacher.payload.userId)));
      await eventually(async () => (await fx.db('deliveries').where({ status: 'sent' })).length === 30, { timeoutMs: 20_000 });
      await sleep(300);
      for (const s of students) expect(fx.smtp.to(s.payload.email)).toHaveLength(1);
      expect(fx.smtp.to(teacher.payload.email)).toHaveLength(15);
      expect(fx.smtp.state.received).toHaveLength(30);
      expect(fx.smtp.state.attempts).toHaveLength(40);
      const logged = await fx.db('delivery_attempts').count<{ n: string }[]>('* as n');
      expect(Number(logged[0].n)).toBe(40); // every try was made by exactly one worker and logged once
      const sentBy = async (url: string) => Number(/notifications_sent_total\{[^}]*channel="email"[^}]*\} (\d+)/.exec(await (await fetch(`${url}/metrics`)).text())?.[1]);
      const [a, b] = [await sentBy(fx.url), await sentBy(replica.url)];
      expect(a + b).toBe(30);
      expect(a).toBeGreaterThan(0); // both replicas took part
      expect(b).toBeGreaterThan(0);
    } finally {
      await replica.stop();
    }
  });
});
