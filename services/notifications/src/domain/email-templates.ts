import type { DomainEvent, EventPayload } from '@guitaronline/contracts';

export interface EmailContent {
  subject: string;
  text: string;
}

export interface TemplateRecipient {
  userId: string;
  fullName?: string;
}

/** "2025-03-01 14:00 UTC": unambiguous for every reader, whatever their time zone. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return 'the agreed time';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function formatMoney(cents: number, currency: string): string {
  return `${(cents / 100).toFixed(2)} ${currency}`;
}

function lines(...parts: (string | undefined | false)[]): string {
  return parts.filter((p): p is string => typeof p === 'string').join('\n');
}

/**
 * The plain subject and text of the e-mail an event sends to one recipient. Pure: the same
 * event and recipient always give the same message (it is stored with the notification, so
 * a retry sends exactly what the first attempt tried to send).
 */
export function renderEmail(event: DomainEvent, recipient: TemplateRecipient): EmailContent {
  const body = bodyFor(event, recipient);
  const greeting = recipient.fullName ? `Hello ${recipient.fullName},` : 'Hello,';
  return {
    subject: `GuitarOnline: ${body.subject}`,
    text: lines(greeting, '', body.text, '', '— GuitarOnline', `(event ${event.type} ${event.id})`),
  };
}

function isStudent(payload: { studentId?: string }, recipient: TemplateRecipient): boolean {
  return payload.studentId === recipient.userId;
}

function bodyFor(event: DomainEvent, recipient: TemplateRecipient): EmailContent {
  switch (event.type) {
    case 'booking.held': {
      const p: EventPayload<'booking.held'> = event.payload;
      return isStudent(p, recipient)
        ? {
            subject: 'your slot is on hold',
            text: `The lesson slot at ${formatTime(p.startAt)} is held for you until ${formatTime(p.holdExpiresAt)}. Confirm the booking before then to keep it.\nBooking: ${p.bookingId}`,
          }
        : { subject: 'a student is holding one of your slots', text: `Your slot at ${formatTime(p.startAt)} is on hold for a student.\nBooking: ${p.bookingId}` };
    }
    case 'booking.confirmed': {
      const p: EventPayload<'booking.confirmed'> = event.payload;
      return {
        subject: 'lesson booked',
        text: `The lesson from ${formatTime(p.startAt)} to ${formatTime(p.endAt)} is confirmed${isStudent(p, recipient) ? '; one lesson was taken from your package' : ''}.\nBooking: ${p.bookingId}`,
      };
    }
    case 'booking.rejected': {
      const p: EventPayload<'booking.rejected'> = event.payload;
      return { subject: 'booking not confirmed', text: `The booking could not be confirmed (${p.reason.replace(/_/g, ' ')}). The slot is free again.\nBooking: ${p.bookingId}` };
    }
    case 'booking.canceled': {
      const p: EventPayload<'booking.canceled'> = event.payload;
      const refund = isStudent(p, recipient) && p.wasConfirmed ? (p.refundable ? ' The lesson goes back to your package.' : ' The lesson is not refunded (canceled inside the refund window).') : '';
      return {
        subject: 'booking canceled',
        text: lines(`The booking${p.startAt ? ` for ${formatTime(p.startAt)}` : ''} was canceled by the ${p.canceledBy}.${refund}`, p.reason ? `Reason: ${p.reason}` : undefined, `Booking: ${p.bookingId}`),
      };
    }
    case 'booking.expired': {
      const p: EventPayload<'booking.expired'> = event.payload;
      return { subject: 'hold expired', text: `The hold was not confirmed in time and has expired; the slot is free again.\nBooking: ${p.bookingId}` };
    }
    case 'booking.rescheduled': {
      const p: EventPayload<'booking.rescheduled'> = event.payload;
      return { subject: 'booking rescheduled', text: `The booking ${p.fromBookingId} was moved to a new slot.\nNew booking: ${p.toBookingId}` };
    }
    case 'lesson.created': {
      const p: EventPayload<'lesson.created'> = event.payload;
      return { subject: 'lesson scheduled', text: `Your lesson at ${formatTime(p.startAt)} is scheduled.\nLesson: ${p.lessonId}` };
    }
    case 'lesson.canceled': {
      const p: EventPayload<'lesson.canceled'> = event.payload;
      return { subject: 'lesson canceled', text: `The lesson at ${formatTime(p.startAt)} is canceled.\nLesson: ${p.lessonId}` };
    }
    case 'lesson.completed': {
      const p: EventPayload<'lesson.completed'> = event.payload;
      return { subject: 'lesson completed', text: `The lesson at ${formatTime(p.startAt)} is marked as completed. Thank you!\nLesson: ${p.lessonId}` };
    }
    case 'billing.lesson.credited': {
      const p: EventPayload<'billing.lesson.credited'> = event.payload;
      return { subject: 'lesson returned to your package', text: `A lesson was credited back to your package; ${p.lessonsLeft} left.\nPackage: ${p.packageId}` };
    }
    case 'billing.package.created': {
      const p: EventPayload<'billing.package.created'> = event.payload;
      return { subject: 'new lesson package', text: `A package of ${p.lessonsTotal} lessons is ready for you, valid until ${formatTime(p.expiresAt)}.\nPackage: ${p.packageId}` };
    }
    case 'billing.package.expired': {
      const p: EventPayload<'billing.package.expired'> = event.payload;
      return { subject: 'package expired', text: `Your lesson package expired on ${formatTime(p.expiresAt)} with ${p.lessonsLeft} lessons unused.\nPackage: ${p.packageId}` };
    }
    case 'billing.package.depleted': {
      const p: EventPayload<'billing.package.depleted'> = event.payload;
      return { subject: 'package used up', text: `All ${p.lessonsTotal} lessons of your package are used.\nPackage: ${p.packageId}` };
    }
    case 'billing.payment.created': {
      const p: EventPayload<'billing.payment.created'> = event.payload;
      return { subject: 'payment received for processing', text: `A payment of ${formatMoney(p.amountCents, p.currency)} is pending.\nPayment: ${p.paymentId}` };
    }
    case 'billing.payment.status_changed': {
      const p: EventPayload<'billing.payment.status_changed'> = event.payload;
      return { subject: `payment ${p.to}`, text: `Your payment of ${formatMoney(p.amountCents, p.currency)} is now ${p.to}${p.from ? ` (was ${p.from})` : ''}.\nPayment: ${p.paymentId}` };
    }
    default:
      return { subject: event.type, text: `Event ${event.type} happened.` };
  }
}
