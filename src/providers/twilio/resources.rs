//! The 2010 API's resources: the account, phone numbers (search, buy, list, update,
//! release), calls and messages.

use reqwest::Method;

use super::{
    API_VERSION, Account, AvailableNumber, BuyNumber, Call, CreateCall, IncomingNumber, Message, NumberSearch,
    RetryPolicy, SendMessage, TwilioClient, TwilioError, UpdateNumber, check_sid, push_bool, push_num, push_opt,
    split_page,
};

impl TwilioClient {
    /// Fetches the account; also the "test these credentials" call. An account whose status is
    /// `suspended` or `closed` yields [`TwilioError::AccountSuspended`].
    pub async fn fetch_account(&self) -> Result<Account, TwilioError> {
        self.check_account_sid()?;
        let url = self.url(&[API_VERSION, "Accounts", &format!("{}.json", self.account_sid)], &[])?;
        let account: Account = self.get_json(url).await?;
        match account.status.as_str() {
            "suspended" | "closed" => Err(TwilioError::AccountSuspended {
                code: None,
                message: format!("Twilio account {} is {}", account.sid, account.status),
            }),
            _ => Ok(account),
        }
    }

    /// One page (`limit`, default Twilio's) of numbers available to buy.
    pub async fn search_available(&self, q: &NumberSearch) -> Result<Vec<AvailableNumber>, TwilioError> {
        let country = q.country.trim().to_ascii_uppercase();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(TwilioError::Api {
                status: 400,
                code: None,
                message: format!("country must be an ISO 3166-1 alpha-2 code, got {country:?}"),
            });
        }
        let mut query = Vec::new();
        push_opt(&mut query, "AreaCode", q.area_code.as_deref());
        push_opt(&mut query, "Contains", q.contains.as_deref());
        push_bool(&mut query, "SmsEnabled", q.sms_enabled);
        push_bool(&mut query, "VoiceEnabled", q.voice_enabled);
        push_bool(&mut query, "MmsEnabled", q.mms_enabled);
        if let Some(limit) = q.limit {
            query.push(("PageSize".to_owned(), limit.clamp(1, 1000).to_string()));
        }
        let url = self.account_url(&["AvailablePhoneNumbers", &country, q.kind.resource()], &query)?;
        let body = self.execute(Method::GET, url, None, RetryPolicy::Safe).await?;
        let (items, _) = split_page::<AvailableNumber>(&body, "available_phone_numbers")?;
        Ok(items)
    }

    /// Buys a number. Not retried after the request may have reached Twilio.
    pub async fn buy_number(&self, req: &BuyNumber) -> Result<IncomingNumber, TwilioError> {
        let mut form = vec![("PhoneNumber".to_owned(), req.phone_number.clone())];
        push_opt(&mut form, "FriendlyName", req.friendly_name.as_deref());
        push_opt(&mut form, "VoiceUrl", req.voice_url.as_deref());
        push_opt(&mut form, "VoiceMethod", req.voice_method.as_deref());
        push_opt(&mut form, "SmsUrl", req.sms_url.as_deref());
        push_opt(&mut form, "SmsMethod", req.sms_method.as_deref());
        push_opt(&mut form, "StatusCallback", req.status_callback.as_deref());
        push_opt(&mut form, "StatusCallbackMethod", req.status_callback_method.as_deref());
        let url = self.account_url(&["IncomingPhoneNumbers.json"], &[])?;
        self.post_json(url, &form).await
    }

    /// Every owned number, following `next_page_uri` for at most 20 pages.
    pub async fn list_incoming_numbers(&self, page_size: u32) -> Result<Vec<IncomingNumber>, TwilioError> {
        let query = [("PageSize".to_owned(), page_size.clamp(1, 1000).to_string())];
        let url = self.account_url(&["IncomingPhoneNumbers.json"], &query)?;
        self.list_all(url, "incoming_phone_numbers").await
    }

    /// The owned number whose `phone_number` equals `phone_number` exactly (E.164), if any.
    pub async fn find_incoming_number(&self, phone_number: &str) -> Result<Option<IncomingNumber>, TwilioError> {
        let query = [
            ("PhoneNumber".to_owned(), phone_number.to_owned()),
            ("PageSize".to_owned(), "50".to_owned()),
        ];
        let url = self.account_url(&["IncomingPhoneNumbers.json"], &query)?;
        // Twilio's PhoneNumber filter is a partial match: keep only the exact one.
        let numbers: Vec<IncomingNumber> = self.list_all(url, "incoming_phone_numbers").await?;
        Ok(numbers.into_iter().find(|n| n.phone_number == phone_number))
    }

    /// Updates an owned number (`VoiceUrl`, `SmsUrl`, ...).
    pub async fn update_number(&self, sid: &str, upd: &UpdateNumber) -> Result<IncomingNumber, TwilioError> {
        check_sid(sid)?;
        let mut form = Vec::new();
        push_opt(&mut form, "FriendlyName", upd.friendly_name.as_deref());
        push_opt(&mut form, "VoiceUrl", upd.voice_url.as_deref());
        push_opt(&mut form, "VoiceMethod", upd.voice_method.as_deref());
        push_opt(&mut form, "VoiceFallbackUrl", upd.voice_fallback_url.as_deref());
        push_opt(&mut form, "SmsUrl", upd.sms_url.as_deref());
        push_opt(&mut form, "SmsMethod", upd.sms_method.as_deref());
        push_opt(&mut form, "StatusCallback", upd.status_callback.as_deref());
        push_opt(&mut form, "StatusCallbackMethod", upd.status_callback_method.as_deref());
        let url = self.account_url(&["IncomingPhoneNumbers", &format!("{sid}.json")], &[])?;
        self.post_json(url, &form).await
    }

    /// Releases an owned number. A 404 counts as already released.
    pub async fn release_number(&self, sid: &str) -> Result<(), TwilioError> {
        check_sid(sid)?;
        let url = self.account_url(&["IncomingPhoneNumbers", &format!("{sid}.json")], &[])?;
        match self.execute(Method::DELETE, url, None, RetryPolicy::Safe).await {
            Ok(_) | Err(TwilioError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Places an outbound call. Not retried after the request may have reached Twilio: on
    /// `Unavailable`, look the call up with [`Self::list_calls_to`] before dialling again.
    pub async fn create_call(&self, req: &CreateCall) -> Result<Call, TwilioError> {
        let mut form = vec![("To".to_owned(), req.to.clone()), ("From".to_owned(), req.from.clone())];
        push_opt(&mut form, "Url", req.url.as_deref());
        push_opt(&mut form, "Method", req.method.as_deref());
        push_opt(&mut form, "Twiml", req.twiml.as_deref());
        push_opt(&mut form, "StatusCallback", req.status_callback.as_deref());
        push_opt(&mut form, "StatusCallbackMethod", req.status_callback_method.as_deref());
        for event in &req.status_callback_events {
            form.push(("StatusCallbackEvent".to_owned(), event.clone()));
        }
        push_num(&mut form, "Timeout", req.timeout);
        push_num(&mut form, "TimeLimit", req.time_limit);
        push_opt(&mut form, "MachineDetection", req.machine_detection.as_deref());
        push_num(&mut form, "MachineDetectionTimeout", req.machine_detection_timeout);
        push_bool(&mut form, "AsyncAmd", req.async_amd);
        push_opt(
            &mut form,
            "AsyncAmdStatusCallback",
            req.async_amd_status_callback.as_deref(),
        );
        push_opt(
            &mut form,
            "AsyncAmdStatusCallbackMethod",
            req.async_amd_status_callback_method.as_deref(),
        );
        push_bool(&mut form, "Record", req.record);
        form.extend(req.extra.iter().cloned());
        let url = self.account_url(&["Calls.json"], &[])?;
        self.post_json(url, &form).await
    }

    /// Hangs up (`Status=completed`), cancels (`Status=canceled`) or redirects (`Twiml`) a call.
    pub async fn update_call(&self, sid: &str, status: Option<&str>, twiml: Option<&str>) -> Result<Call, TwilioError> {
        check_sid(sid)?;
        let mut form = Vec::new();
        push_opt(&mut form, "Status", status);
        push_opt(&mut form, "Twiml", twiml);
        let url = self.account_url(&["Calls", &format!("{sid}.json")], &[])?;
        self.post_json(url, &form).await
    }

    pub async fn fetch_call(&self, sid: &str) -> Result<Call, TwilioError> {
        check_sid(sid)?;
        let url = self.account_url(&["Calls", &format!("{sid}.json")], &[])?;
        self.get_json(url).await
    }

    /// Calls from `from` to `to` (newest first), to reconcile a dial whose outcome is unknown.
    /// `start_after` is sent as `StartTime>` (`YYYY-MM-DD` or ISO 8601, inclusive); note that
    /// Twilio matches it against `start_time`, which a still-queued call may not have yet.
    pub async fn list_calls_to(
        &self,
        to: &str,
        from: &str,
        start_after: Option<&str>,
    ) -> Result<Vec<Call>, TwilioError> {
        let mut query = vec![("To".to_owned(), to.to_owned()), ("From".to_owned(), from.to_owned())];
        push_opt(&mut query, "StartTime>", start_after);
        query.push(("PageSize".to_owned(), "50".to_owned()));
        let url = self.account_url(&["Calls.json"], &query)?;
        self.list_all(url, "calls").await
    }

    /// Sends an SMS/MMS. Not retried after the request may have reached Twilio.
    pub async fn send_message(&self, req: &SendMessage) -> Result<Message, TwilioError> {
        let mut form = vec![("To".to_owned(), req.to.clone())];
        push_opt(&mut form, "From", req.from.as_deref());
        push_opt(&mut form, "MessagingServiceSid", req.messaging_service_sid.as_deref());
        push_opt(&mut form, "Body", req.body.as_deref());
        for media in &req.media_urls {
            form.push(("MediaUrl".to_owned(), media.clone()));
        }
        push_opt(&mut form, "StatusCallback", req.status_callback.as_deref());
        form.extend(req.extra.iter().cloned());
        let url = self.account_url(&["Messages.json"], &[])?;
        self.post_json(url, &form).await
    }
}
