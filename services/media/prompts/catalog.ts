// The spoken prompts of voicemail, the virtual receptionist and conferences, in the four languages of the
// product (the seeds' UI languages: English, Spanish as spoken in Mexico, French, Swedish). Text lives
// here once; the build turns it into 8 kHz WAV files with espeak-ng (see generate.ts). Features refer to
// prompts by id and compose sentences from parts ("you have" + number + "new messages").

export const PROMPT_LANGUAGES = ['en', 'es', 'fr', 'sv'] as const;
export type PromptLanguage = (typeof PROMPT_LANGUAGES)[number];
export const DEFAULT_LANGUAGE: PromptLanguage = 'en';

/** espeak-ng voice per language. Latin-American Spanish: the product's Spanish market is Mexico. */
export const ESPEAK_VOICE: Readonly<Record<PromptLanguage, string>> = {
  en: 'en-us',
  es: 'es-419',
  fr: 'fr-fr',
  sv: 'sv',
};

type Texts = Readonly<Record<PromptLanguage, string>>;

const PHRASES = {
  // ── common ──
  'common.goodbye': { en: 'Goodbye.', es: 'Adiós.', fr: 'Au revoir.', sv: 'Hej då.' },
  'common.invalid_option': {
    en: 'Invalid option. Please try again.',
    es: 'Opción no válida. Por favor, inténtelo de nuevo.',
    fr: 'Option invalide. Veuillez réessayer.',
    sv: 'Ogiltigt val. Försök igen.',
  },
  'common.please_hold': {
    en: 'Please hold while we connect your call.',
    es: 'Por favor, espere mientras conectamos su llamada.',
    fr: 'Veuillez patienter, nous transférons votre appel.',
    sv: 'Var god vänta medan vi kopplar ditt samtal.',
  },
  'common.press': { en: 'Press', es: 'Oprima', fr: 'Appuyez sur', sv: 'Tryck' },
  'common.star': { en: 'star', es: 'asterisco', fr: 'étoile', sv: 'stjärna' },
  'common.pound': { en: 'pound', es: 'numeral', fr: 'dièse', sv: 'fyrkant' },
  'common.no_input': {
    en: 'We did not receive your selection.',
    es: 'No recibimos su selección.',
    fr: "Nous n'avons pas reçu votre choix.",
    sv: 'Vi fick inget val från dig.',
  },
  // ── outside calls (routing) ──
  'route.not_permitted': {
    en: 'This call is not allowed from your phone. Please ask your administrator.',
    es: 'Esta llamada no está permitida desde su teléfono. Consulte a su administrador.',
    fr: "Cet appel n'est pas autorisé depuis votre poste. Veuillez contacter votre administrateur.",
    sv: 'Det här samtalet är inte tillåtet från din telefon. Kontakta din administratör.',
  },
  // ── the user's own features, set by feature code (services/pbx/user-calls/feature-codes.ts) ──
  'feature.forward_always_on': {
    en: 'All your calls are now forwarded.',
    es: 'Todas sus llamadas se desvían ahora.',
    fr: 'Tous vos appels sont maintenant renvoyés.',
    sv: 'Alla dina samtal kopplas nu vidare.',
  },
  'feature.forward_busy_on': {
    en: 'Calls are now forwarded when you are busy.',
    es: 'Las llamadas se desvían ahora cuando está ocupado.',
    fr: 'Les appels sont maintenant renvoyés quand vous êtes occupé.',
    sv: 'Samtal kopplas nu vidare när du är upptagen.',
  },
  'feature.forward_no_answer_on': {
    en: 'Calls are now forwarded when you do not answer.',
    es: 'Las llamadas se desvían ahora cuando no contesta.',
    fr: 'Les appels sont maintenant renvoyés quand vous ne répondez pas.',
    sv: 'Samtal kopplas nu vidare när du inte svarar.',
  },
  'feature.forward_unreachable_on': {
    en: 'Calls are now forwarded when your phone is not connected.',
    es: 'Las llamadas se desvían ahora cuando su teléfono no está conectado.',
    fr: "Les appels sont maintenant renvoyés quand votre téléphone n'est pas connecté.",
    sv: 'Samtal kopplas nu vidare när din telefon inte är ansluten.',
  },
  'feature.forward_off': {
    en: 'Call forwarding is off.',
    es: 'El desvío de llamadas está desactivado.',
    fr: "Le renvoi d'appel est désactivé.",
    sv: 'Vidarekopplingen är avstängd.',
  },
  'feature.forward_invalid': {
    en: 'Calls cannot be forwarded to that number.',
    es: 'Las llamadas no se pueden desviar a ese número.',
    fr: 'Les appels ne peuvent pas être renvoyés vers ce numéro.',
    sv: 'Samtal kan inte kopplas vidare till det numret.',
  },
  'feature.dnd_on': {
    en: 'Do not disturb is on.',
    es: 'No molestar está activado.',
    fr: 'Ne pas déranger est activé.',
    sv: 'Stör ej är påslaget.',
  },
  'feature.dnd_off': {
    en: 'Do not disturb is off.',
    es: 'No molestar está desactivado.',
    fr: 'Ne pas déranger est désactivé.',
    sv: 'Stör ej är avstängt.',
  },
  'feature.call_waiting_on': {
    en: 'Call waiting is on.',
    es: 'La llamada en espera está activada.',
    fr: "Le signal d'appel est activé.",
    sv: 'Samtal väntar är påslaget.',
  },
  'feature.call_waiting_off': {
    en: 'Call waiting is off.',
    es: 'La llamada en espera está desactivada.',
    fr: "Le signal d'appel est désactivé.",
    sv: 'Samtal väntar är avstängt.',
  },
  'feature.caller_id_hidden': {
    en: 'Your number is now hidden on outside calls.',
    es: 'Su número ahora está oculto en las llamadas externas.',
    fr: 'Votre numéro est maintenant masqué pour les appels extérieurs.',
    sv: 'Ditt nummer är nu dolt vid externa samtal.',
  },
  'feature.caller_id_shown': {
    en: 'Your number is now shown on outside calls.',
    es: 'Su número ahora se muestra en las llamadas externas.',
    fr: 'Votre numéro est maintenant affiché pour les appels extérieurs.',
    sv: 'Ditt nummer visas nu vid externa samtal.',
  },
  // ── voicemail ──
  'vm.welcome': {
    en: 'Welcome to your voicemail.',
    es: 'Bienvenido a su buzón de voz.',
    fr: 'Bienvenue sur votre messagerie vocale.',
    sv: 'Välkommen till din röstbrevlåda.',
  },
  'vm.enter_mailbox': {
    en: 'Please enter your mailbox number, followed by the pound key.',
    es: 'Marque el número de su buzón, seguido de la tecla numeral.',
    fr: 'Veuillez composer le numéro de votre boîte vocale, suivi de la touche dièse.',
    sv: 'Slå ditt brevlådenummer, följt av fyrkant.',
  },
  'vm.enter_pin': {
    en: 'Please enter your PIN, followed by the pound key.',
    es: 'Marque su código PIN, seguido de la tecla numeral.',
    fr: 'Veuillez composer votre code secret, suivi de la touche dièse.',
    sv: 'Slå din PIN-kod, följt av fyrkant.',
  },
  'vm.pin_incorrect': {
    en: 'That PIN is incorrect.',
    es: 'El código PIN es incorrecto.',
    fr: 'Ce code secret est incorrect.',
    sv: 'Fel PIN-kod.',
  },
  'vm.unavailable': {
    en: 'The person you are calling is not available.',
    es: 'La persona a quien llama no está disponible.',
    fr: "Votre correspondant n'est pas disponible.",
    sv: 'Den du söker kan inte svara just nu.',
  },
  'vm.busy': {
    en: 'The person you are calling is on another call.',
    es: 'La persona a quien llama está en otra llamada.',
    fr: 'Votre correspondant est déjà en ligne.',
    sv: 'Den du söker talar i telefon.',
  },
  'vm.leave_message': {
    en: 'Please leave a message after the tone. When you are finished, hang up or press pound.',
    es: 'Por favor, deje su mensaje después del tono. Al terminar, cuelgue u oprima numeral.',
    fr: 'Veuillez laisser un message après le bip. Quand vous avez terminé, raccrochez ou appuyez sur dièse.',
    sv: 'Lämna ett meddelande efter tonen. När du är klar, lägg på eller tryck fyrkant.',
  },
  'vm.you_have': { en: 'You have', es: 'Tiene', fr: 'Vous avez', sv: 'Du har' },
  'vm.new_message': { en: 'new message.', es: 'mensaje nuevo.', fr: 'nouveau message.', sv: 'nytt meddelande.' },
  'vm.new_messages': { en: 'new messages.', es: 'mensajes nuevos.', fr: 'nouveaux messages.', sv: 'nya meddelanden.' },
  'vm.saved_message': { en: 'saved message.', es: 'mensaje guardado.', fr: 'message enregistré.', sv: 'sparat meddelande.' },
  'vm.saved_messages': { en: 'saved messages.', es: 'mensajes guardados.', fr: 'messages enregistrés.', sv: 'sparade meddelanden.' },
  'vm.no_messages': {
    en: 'You have no new messages.',
    es: 'No tiene mensajes nuevos.',
    fr: "Vous n'avez aucun nouveau message.",
    sv: 'Du har inga nya meddelanden.',
  },
  'vm.main_menu': {
    en: 'To listen to your messages, press 1. To record your greeting, press 3. To change your PIN, press 4. To exit, press star.',
    es: 'Para escuchar sus mensajes, oprima 1. Para grabar su saludo, oprima 3. Para cambiar su PIN, oprima 4. Para salir, oprima asterisco.',
    fr: 'Pour écouter vos messages, appuyez sur 1. Pour enregistrer votre annonce, appuyez sur 3. Pour changer votre code secret, appuyez sur 4. Pour quitter, appuyez sur étoile.',
    sv: 'För att lyssna på dina meddelanden, tryck 1. För att spela in din hälsning, tryck 3. För att byta PIN-kod, tryck 4. För att avsluta, tryck stjärna.',
  },
  'vm.message_menu': {
    en: 'To replay this message, press 1. To delete it, press 7. To save it, press 9. For the next message, press pound.',
    es: 'Para repetir este mensaje, oprima 1. Para borrarlo, oprima 7. Para guardarlo, oprima 9. Para el siguiente mensaje, oprima numeral.',
    fr: 'Pour réécouter ce message, appuyez sur 1. Pour le supprimer, appuyez sur 7. Pour le garder, appuyez sur 9. Pour le message suivant, appuyez sur dièse.',
    sv: 'För att spela upp meddelandet igen, tryck 1. För att radera det, tryck 7. För att spara det, tryck 9. För nästa meddelande, tryck fyrkant.',
  },
  'vm.first_message': { en: 'First message.', es: 'Primer mensaje.', fr: 'Premier message.', sv: 'Första meddelandet.' },
  'vm.next_message': { en: 'Next message.', es: 'Siguiente mensaje.', fr: 'Message suivant.', sv: 'Nästa meddelande.' },
  'vm.no_more_messages': {
    en: 'There are no more messages.',
    es: 'No hay más mensajes.',
    fr: "Il n'y a plus de messages.",
    sv: 'Det finns inga fler meddelanden.',
  },
  'vm.message_deleted': { en: 'Message deleted.', es: 'Mensaje borrado.', fr: 'Message supprimé.', sv: 'Meddelandet raderat.' },
  'vm.message_saved': { en: 'Message saved.', es: 'Mensaje guardado.', fr: 'Message enregistré.', sv: 'Meddelandet sparat.' },
  'vm.record_greeting': {
    en: 'Record your greeting after the tone, then press pound.',
    es: 'Grabe su saludo después del tono y luego oprima numeral.',
    fr: 'Enregistrez votre annonce après le bip, puis appuyez sur dièse.',
    sv: 'Spela in din hälsning efter tonen och tryck sedan fyrkant.',
  },
  'vm.greeting_saved': {
    en: 'Your greeting has been saved.',
    es: 'Su saludo ha sido guardado.',
    fr: 'Votre annonce a été enregistrée.',
    sv: 'Din hälsning har sparats.',
  },
  'vm.enter_new_pin': {
    en: 'Enter your new PIN, followed by the pound key.',
    es: 'Marque su nuevo PIN, seguido de la tecla numeral.',
    fr: 'Composez votre nouveau code secret, suivi de la touche dièse.',
    sv: 'Slå din nya PIN-kod, följt av fyrkant.',
  },
  'vm.pin_changed': {
    en: 'Your PIN has been changed.',
    es: 'Su PIN ha sido cambiado.',
    fr: 'Votre code secret a été modifié.',
    sv: 'Din PIN-kod har ändrats.',
  },
  'vm.mailbox_full': {
    en: 'This mailbox is full and cannot accept messages.',
    es: 'Este buzón está lleno y no puede recibir mensajes.',
    fr: 'Cette boîte vocale est pleine et ne peut plus recevoir de messages.',
    sv: 'Brevlådan är full och kan inte ta emot meddelanden.',
  },
  // ── virtual receptionist ──
  'ivr.thank_you_for_calling': {
    en: 'Thank you for calling.',
    es: 'Gracias por llamar.',
    fr: 'Merci de votre appel.',
    sv: 'Tack för att du ringer.',
  },
  'ivr.dial_extension': {
    en: "If you know your party's extension, you may dial it at any time.",
    es: 'Si conoce la extensión de la persona, puede marcarla en cualquier momento.',
    fr: 'Si vous connaissez le numéro de poste de votre correspondant, vous pouvez le composer à tout moment.',
    sv: 'Om du vet anknytningen kan du slå den när som helst.',
  },
  'ivr.for': { en: 'For', es: 'Para', fr: 'Pour', sv: 'För' },
  'ivr.sales': { en: 'sales', es: 'ventas', fr: 'le service commercial', sv: 'försäljning' },
  'ivr.support': { en: 'support', es: 'soporte técnico', fr: 'le support technique', sv: 'support' },
  'ivr.billing': { en: 'billing', es: 'facturación', fr: 'la facturation', sv: 'fakturor' },
  'ivr.operator': {
    en: 'To reach the operator, press 0.',
    es: 'Para hablar con la operadora, oprima 0.',
    fr: 'Pour joindre le standard, appuyez sur 0.',
    sv: 'För att nå växeln, tryck 0.',
  },
  'ivr.directory': {
    en: 'For the company directory, press 9.',
    es: 'Para el directorio de la empresa, oprima 9.',
    fr: "Pour l'annuaire de l'entreprise, appuyez sur 9.",
    sv: 'För företagets katalog, tryck 9.',
  },
  'ivr.repeat_menu': {
    en: 'To hear these options again, press star.',
    es: 'Para escuchar estas opciones de nuevo, oprima asterisco.',
    fr: 'Pour réécouter ces options, appuyez sur étoile.',
    sv: 'För att höra valen igen, tryck stjärna.',
  },
  'ivr.transferring': {
    en: 'Please hold while I transfer your call.',
    es: 'Por favor, espere mientras transfiero su llamada.',
    fr: 'Veuillez patienter pendant le transfert de votre appel.',
    sv: 'Var god vänta medan jag kopplar samtalet.',
  },
  'ivr.no_answer': {
    en: 'Sorry, no one is available to take your call.',
    es: 'Lo sentimos, no hay nadie disponible para atender su llamada.',
    fr: "Désolé, personne n'est disponible pour prendre votre appel.",
    sv: 'Tyvärr kan ingen ta ditt samtal just nu.',
  },
  'ivr.closed': {
    en: 'Our office is currently closed. Please call again during business hours.',
    es: 'Nuestra oficina está cerrada en este momento. Por favor, llame de nuevo en horario de oficina.',
    fr: 'Nos bureaux sont actuellement fermés. Merci de rappeler pendant nos heures d’ouverture.',
    sv: 'Vårt kontor är stängt just nu. Ring gärna igen under kontorstid.',
  },
  'ivr.invalid_extension': {
    en: 'That extension is not valid.',
    es: 'Esa extensión no es válida.',
    fr: "Ce numéro de poste n'est pas valide.",
    sv: 'Anknytningen finns inte.',
  },
  'ivr.extension': { en: 'extension', es: 'la extensión', fr: 'le poste', sv: 'anknytning' },
  'ivr.our_team': { en: 'our team', es: 'nuestro equipo', fr: 'notre équipe', sv: 'vårt team' },
  'ivr.voicemail': { en: 'voicemail', es: 'el buzón de voz', fr: 'la messagerie vocale', sv: 'röstbrevlådan' },
  'ivr.conference': { en: 'the conference room', es: 'la sala de conferencias', fr: 'la salle de conférence', sv: 'konferensrummet' },
  'ivr.the_operator': { en: 'the operator', es: 'la operadora', fr: 'le standard', sv: 'växeln' },
  'ivr.repeat_press': {
    en: 'To hear these options again, press',
    es: 'Para escuchar estas opciones de nuevo, oprima',
    fr: 'Pour réécouter ces options, appuyez sur',
    sv: 'För att höra valen igen, tryck',
  },
  'ivr.dial_by_extension_press': {
    en: 'To dial an extension, press',
    es: 'Para marcar una extensión, oprima',
    fr: 'Pour composer un numéro de poste, appuyez sur',
    sv: 'För att slå en anknytning, tryck',
  },
  'ivr.enter_extension': {
    en: 'Please enter the extension, followed by the pound key.',
    es: 'Marque la extensión, seguida de la tecla numeral.',
    fr: 'Veuillez composer le numéro de poste, suivi de la touche dièse.',
    sv: 'Slå anknytningen, följt av fyrkant.',
  },
  'ivr.unavailable': {
    en: 'Sorry, that destination is not available.',
    es: 'Lo sentimos, ese destino no está disponible.',
    fr: "Désolé, cette destination n'est pas disponible.",
    sv: 'Tyvärr är det valet inte tillgängligt.',
  },
  // ── conferences ──
  'conf.full': {
    en: 'This conference is full.',
    es: 'Esta conferencia está llena.',
    fr: 'Cette conférence est complète.',
    sv: 'Konferensen är full.',
  },
  'conf.no_rooms': {
    en: 'All conference rooms are in use. Please try again later.',
    es: 'Todas las salas de conferencias están ocupadas. Por favor, inténtelo más tarde.',
    fr: 'Toutes les salles de conférence sont occupées. Veuillez réessayer plus tard.',
    sv: 'Alla konferensrum är upptagna. Försök igen senare.',
  },
  'conf.enter_number': {
    en: 'Please enter the conference number, followed by the pound key.',
    es: 'Marque el número de la conferencia, seguido de la tecla numeral.',
    fr: 'Veuillez composer le numéro de la conférence, suivi de la touche dièse.',
    sv: 'Slå konferensnumret, följt av fyrkant.',
  },
  'conf.enter_pin': {
    en: 'Please enter the conference PIN, followed by the pound key.',
    es: 'Marque el PIN de la conferencia, seguido de la tecla numeral.',
    fr: 'Veuillez composer le code de la conférence, suivi de la touche dièse.',
    sv: 'Slå konferensens PIN-kod, följt av fyrkant.',
  },
  'conf.invalid_number': {
    en: 'That conference number is not valid.',
    es: 'Ese número de conferencia no es válido.',
    fr: "Ce numéro de conférence n'est pas valide.",
    sv: 'Konferensnumret är ogiltigt.',
  },
  'conf.entering': {
    en: 'You are now entering the conference.',
    es: 'Está entrando en la conferencia.',
    fr: 'Vous entrez maintenant dans la conférence.',
    sv: 'Du kopplas nu in i konferensen.',
  },
  'conf.first_participant': {
    en: 'You are the first participant.',
    es: 'Usted es el primer participante.',
    fr: 'Vous êtes le premier participant.',
    sv: 'Du är den första deltagaren.',
  },
  'conf.there_are': { en: 'There are', es: 'Hay', fr: 'Il y a', sv: 'Det finns' },
  'conf.participants': {
    en: 'participants in this conference.',
    es: 'participantes en esta conferencia.',
    fr: 'participants dans cette conférence.',
    sv: 'deltagare i konferensen.',
  },
  'conf.muted': { en: 'You are muted.', es: 'Su micrófono está silenciado.', fr: 'Votre micro est coupé.', sv: 'Din mikrofon är avstängd.' },
  'conf.unmuted': { en: 'You are unmuted.', es: 'Su micrófono está activado.', fr: 'Votre micro est activé.', sv: 'Din mikrofon är påslagen.' },
  'conf.locked': {
    en: 'This conference is locked.',
    es: 'Esta conferencia está cerrada.',
    fr: 'Cette conférence est verrouillée.',
    sv: 'Konferensen är låst.',
  },
  'conf.wait_for_host': {
    en: 'Please wait. The conference will begin when the host arrives.',
    es: 'Por favor, espere. La conferencia comenzará cuando llegue el anfitrión.',
    fr: "Veuillez patienter. La conférence commencera à l'arrivée de l'organisateur.",
    sv: 'Var god vänta. Konferensen börjar när värden ansluter.',
  },
  'conf.ended': {
    en: 'The conference has ended.',
    es: 'La conferencia ha terminado.',
    fr: 'La conférence est terminée.',
    sv: 'Konferensen är avslutad.',
  },
} as const satisfies Record<string, Texts>;

/** Numbers are spoken whole up to 99 (no grammar of tens and units to compose per language). */
export const MAX_SPOKEN_NUMBER = 99;

export type PhraseId = keyof typeof PHRASES;
export type NumberPromptId = `num.${number}`;
export type PromptId = PhraseId | NumberPromptId;

export interface PromptEntry {
  readonly id: PromptId;
  readonly text: Texts;
}

function numberTexts(n: number): Texts {
  // espeak-ng reads digits in the voice's language, so the numeral itself is the text.
  const s = String(n);
  return { en: s, es: s, fr: s, sv: s };
}

/** Every prompt the build generates, phrases first, then num.0 … num.99. */
export const PROMPTS: readonly PromptEntry[] = [
  ...Object.entries(PHRASES).map(([id, text]) => ({ id: id as PhraseId, text })),
  ...Array.from({ length: MAX_SPOKEN_NUMBER + 1 }, (_, n) => ({ id: `num.${n}` as NumberPromptId, text: numberTexts(n) })),
];

const BY_ID = new Map<string, PromptEntry>(PROMPTS.map((p) => [p.id, p]));

export function isPromptId(s: string): s is PromptId {
  return BY_ID.has(s);
}

export function isPromptLanguage(s: string): s is PromptLanguage {
  return (PROMPT_LANGUAGES as readonly string[]).includes(s);
}

export function promptText(id: PromptId, language: PromptLanguage): string {
  const e = BY_ID.get(id);
  if (!e) throw new RangeError(`unknown prompt ${id}`);
  return e.text[language];
}

/** Prompt id for a number 0–99; larger numbers are spoken digit by digit. */
export function numberPrompts(n: number): NumberPromptId[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`cannot speak ${n}`);
  if (n <= MAX_SPOKEN_NUMBER) return [`num.${n}`];
  return [...String(n)].map((d) => `num.${d}` as NumberPromptId);
}

/** "You have N new message(s)." as a prompt sequence (singular for one; 'no new messages' for zero). */
export function newMessagesPrompts(count: number): PromptId[] {
  if (count === 0) return ['vm.no_messages'];
  return ['vm.you_have', ...numberPrompts(count), count === 1 ? 'vm.new_message' : 'vm.new_messages'];
}

/** "There are N participants in this conference." */
export function participantCountPrompts(count: number): PromptId[] {
  if (count <= 1) return ['conf.first_participant'];
  return ['conf.there_are', ...numberPrompts(count), 'conf.participants'];
}
